"""What verifying a bearer token costs: the signature check alone (PyJWT, HS256) as the
baseline, then ``LocalAuth.verify`` as the embedded server runs it (logins in SQLite) of an
access token (signature, the user's state in the accounts file, its login's row: what makes
disabling and logout take effect at once) and of an API key, on a home with
``BENCH_AUTH_USERS`` users, each with a few logins."""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from floww.adapters.inprocess import SystemClock
from floww.adapters.local.identity import LocalAuth
from floww.adapters.local.keys import KeyStore
from floww.adapters.local.tokens import TokenCodec
from floww.adapters.sql import make_engine, migrate
from floww.adapters.sql.logins import SqlLogins

USERS = int(os.environ.get("BENCH_AUTH_USERS", "50"))
LOGINS_PER_USER = 3
CALLS = int(os.environ.get("BENCH_AUTH_CALLS", "2000"))


def _per_call_us(call: Callable[[], object]) -> float:
    for _ in range(50):
        call()
    started = time.perf_counter()
    for _ in range(CALLS):
        call()
    return (time.perf_counter() - started) / CALLS * 1e6


def run() -> list[str]:
    clock = SystemClock()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        engine = make_engine(f"sqlite:///{home / 'floww.db'}")
        migrate(engine)
        auth = LocalAuth(
            home, clock, verification_uri="http://127.0.0.1/device", logins=SqlLogins(engine)
        )
        token = key = ""
        for n in range(USERS):
            user = auth.create_user(f"user{n}@example.com", "a password!")
            for _ in range(LOGINS_PER_USER):
                token = auth.start_login(user).access_token
            key, _ = auth.create_api_key(user, "ns_bench", "ci")
        codec = TokenCodec({"access": KeyStore(home, purposes=("access",)).key("access")})
        baseline = _per_call_us(lambda: codec.decode(token, purposes=("access",), now=clock.now()))
        access = _per_call_us(lambda: auth.verify(token))
        api_key = _per_call_us(lambda: auth.verify(key))
        engine.dispose()
    accounts = f"{USERS} users, {USERS * LOGINS_PER_USER} logins, {USERS} API keys"
    return [
        f"token verification ({CALLS} calls each; {accounts})",
        f"{'signature only (PyJWT HS256)':<34} {baseline:>9.1f} us/call",
        f"{'access token (+ user and login)':<34} {access:>9.1f} us/call"
        f"   x{access / baseline:.1f} the baseline",
        f"{'API key (+ owner)':<34} {api_key:>9.1f} us/call"
        f"   x{api_key / baseline:.1f} the baseline",
    ]


if __name__ == "__main__":
    for line in run():
        print(line)
