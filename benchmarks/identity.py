"""Verifying people's tokens, in figures: a WorkOS access token checked locally (RS256 against
the cached JWKS, provisioning cached) against the embedded profile's own access token (HS256,
``LocalAuth``) as the baseline, measured in the same run; then a flood of tokens signed by an
unknown key, and how many JWKS requests it cost WorkOS (the stand-in counts them).
``python -m benchmarks.identity``."""

from __future__ import annotations

import contextlib
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from floww.adapters.inprocess import SystemClock
from floww.adapters.local.identity import LocalAuth
from floww.adapters.memory import InMemorySecretBox, InMemoryWorkflowRepo
from floww.adapters.workos import WorkOSDirectory, WorkOSIdentity, WorkOSTokenVerifier
from floww.domain.errors import Unauthenticated
from floww.domain.usecases.provisioning import sync_memberships
from floww.testing.workos_standin import WorkOSStandIn

CALLS = 2000
FORGED = 2000
CLIENT = "client_floww"


def _per_call_us(verify: Callable[[str], object], tokens: list[str]) -> float:
    started = time.perf_counter()
    for token in tokens:
        verify(token)
    return (time.perf_counter() - started) / len(tokens) * 1e6


def run() -> list[str]:
    clock = SystemClock()
    with tempfile.TemporaryDirectory(prefix="floww-bench-identity-") as home:
        local = LocalAuth(Path(home), clock, verification_uri="http://127.0.0.1/device")
        ada = local.create_user("ada@example.test")
        local_tokens = [local.issue_token(ada) for _ in range(CALLS)]
        local.verify(local_tokens[0])
        baseline = _per_call_us(local.verify, local_tokens)

    with WorkOSStandIn(clients=(CLIENT,)) as standin:
        user = standin.add_user("ada@acme.test")
        standin.add_membership(user, standin.add_organization("Acme"), "member")
        repo = InMemoryWorkflowRepo(InMemorySecretBox())
        identity = WorkOSIdentity(
            WorkOSTokenVerifier(standin.url, CLIENT),
            WorkOSDirectory(api_key=standin.api_key, client_id=CLIENT, base_url=standin.url),
            lambda uid, orgs: sync_memberships(repo, clock, uid, orgs),
        )
        tokens = [standin.access_token(user) for _ in range(CALLS)]
        identity.verify(tokens[0])  # fetch the key set and provision once
        workos = _per_call_us(identity.verify, tokens)

        forged = [standin.access_token(user, signed_by="forger") for _ in range(FORGED)]
        before = standin.jwks_fetches[CLIENT]
        started = time.perf_counter()
        for token in forged:
            with contextlib.suppress(Unauthenticated):
                identity.verify(token)
        flood_s = time.perf_counter() - started
        fetched = standin.jwks_fetches[CLIENT] - before

    return [
        f"verifying a person's access token ({CALLS} calls, one thread, in process)",
        f"{'local HS256 access token (baseline)':<40} {baseline:>8.1f} us/call",
        f"{'WorkOS RS256 token, JWKS cached':<40} {workos:>8.1f} us/call",
        f"{'ratio WorkOS / baseline':<40} x{workos / baseline:.2f}",
        f"{FORGED} tokens signed by an unknown key: refused in {flood_s:.2f} s, "
        f"{fetched} JWKS request(s) to WorkOS (at most one per 30 s)",
    ]


if __name__ == "__main__":
    for line in run():
        print(line, flush=True)
