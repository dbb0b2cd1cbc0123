"""Contract of ``LoginStore`` (refresh-token families): a login rotates from its current
generation to the next; a spent generation presented again revokes it; revoked, expired,
unknown and other users' logins are ``ENDED``; a user's logins end together; expired ones are
forgotten."""

from __future__ import annotations

import hashlib
import secrets
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from floww.ports.logins import Login, LoginStore, Rotation

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _start(store: LoginStore, user_id: str = "user_ada") -> Login:
    login = Login(
        id=f"ses_{secrets.token_urlsafe(9)}",
        user_id=user_id,
        current=_digest("gen-0"),
        expires_at=NOW + timedelta(days=30),
    )
    store.start(login)
    return login


def test_a_login_rotates_and_a_spent_generation_revokes_it(logins: LoginStore) -> None:
    login = _start(logins)
    assert logins.find(login.id) == login
    assert logins.rotate(login.id, "user_ada", _digest("gen-0"), _digest("gen-1"), NOW) is (
        Rotation.ROTATED
    )
    assert logins.rotate(login.id, "user_ada", _digest("gen-1"), _digest("gen-2"), NOW) is (
        Rotation.ROTATED
    )
    found = logins.find(login.id)
    assert found is not None and found.current == _digest("gen-2") and not found.revoked
    assert logins.rotate(login.id, "user_ada", _digest("gen-0"), _digest("x"), NOW) is (
        Rotation.REUSED
    )
    revoked = logins.find(login.id)
    assert revoked is not None and revoked.revoked
    assert logins.rotate(login.id, "user_ada", _digest("gen-2"), _digest("y"), NOW) is (
        Rotation.ENDED
    )


def test_ended_logins_rotate_no_more(logins: LoginStore) -> None:
    mine, other, old = _start(logins), _start(logins, "user_bob"), _start(logins)
    gen0, nxt = _digest("gen-0"), _digest("next")
    assert logins.rotate("ses_unknown", "user_ada", gen0, nxt, NOW) is Rotation.ENDED
    assert logins.rotate(other.id, "user_ada", gen0, nxt, NOW) is Rotation.ENDED
    late = NOW + timedelta(days=31)
    assert logins.rotate(old.id, "user_ada", gen0, nxt, late) is Rotation.ENDED
    logins.revoke(mine.id)
    logins.revoke(mine.id)  # idempotent
    assert logins.rotate(mine.id, "user_ada", gen0, nxt, NOW) is Rotation.ENDED
    assert logins.rotate(other.id, "user_bob", gen0, nxt, NOW) is Rotation.ROTATED


def test_revoking_a_user_ends_all_their_logins_only(logins: LoginStore) -> None:
    first, second, bobs = _start(logins), _start(logins), _start(logins, "user_bob")
    logins.revoke_user("user_ada")
    for login in (first, second):
        found = logins.find(login.id)
        assert found is not None and found.revoked
    found = logins.find(bobs.id)
    assert found is not None and not found.revoked


def test_expired_logins_are_forgotten(logins: LoginStore) -> None:
    kept = _start(logins)
    gone = Login(
        id="ses_gone", user_id="user_ada", current=_digest("g"), expires_at=NOW - timedelta(1)
    )
    logins.start(gone)
    logins.forget_expired(NOW)
    assert logins.find("ses_gone") is None
    assert logins.find(kept.id) == kept
    assert "gen-0" not in repr(kept) and kept.current not in repr(kept)


def test_redeeming_one_generation_at_once_rotates_once(logins: LoginStore) -> None:
    """Two replicas (or two copies of a token) redeeming together: one new generation, and the
    login revoked by the others, never two live successors."""
    login = _start(logins)
    with ThreadPoolExecutor(6) as pool:
        answers = list(
            pool.map(
                lambda n: logins.rotate(
                    login.id, "user_ada", _digest("gen-0"), _digest(f"next-{n}"), NOW
                ),
                range(6),
            )
        )
    assert answers.count(Rotation.ROTATED) == 1
    assert set(answers) <= {Rotation.ROTATED, Rotation.REUSED, Rotation.ENDED}
    assert Rotation.REUSED in answers
    found = logins.find(login.id)
    assert found is not None and found.revoked
