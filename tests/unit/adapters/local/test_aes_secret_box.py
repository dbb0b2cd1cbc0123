"""AesGcmSecretBox: round trips, tamper detection, keys, and its key file."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from floww.adapters.local.secret_box import AesGcmSecretBox
from floww.domain.errors import InvalidInput

KEY = bytes(range(32))
OTHER_KEY = bytes(range(1, 33))
BOX = AesGcmSecretBox(KEY)


def test_round_trip_and_fresh_nonces() -> None:
    sealed = BOX.seal(b"hunter2")
    assert BOX.open(sealed) == b"hunter2"
    assert b"hunter2" not in sealed
    assert BOX.seal(b"hunter2") != sealed
    assert sealed[:1] == b"\x01"  # the format version
    assert BOX.open(BOX.seal(b"")) == b""


@given(st.binary(max_size=4096))
def test_any_bytes_round_trip(plaintext: bytes) -> None:
    assert BOX.open(BOX.seal(plaintext)) == plaintext


@given(st.binary(max_size=64), st.data())
def test_any_flipped_bit_is_detected(plaintext: bytes, data: st.DataObject) -> None:
    sealed = bytearray(BOX.seal(plaintext))
    position = data.draw(st.integers(0, len(sealed) - 1), label="byte")
    bit = data.draw(st.integers(0, 7), label="bit")
    sealed[position] ^= 1 << bit
    with pytest.raises(InvalidInput):
        BOX.open(bytes(sealed))


def test_wrong_key_truncated_and_foreign_data_are_rejected() -> None:
    sealed = BOX.seal(b"config")
    with pytest.raises(InvalidInput, match="another key"):
        AesGcmSecretBox(OTHER_KEY).open(sealed)
    for foreign in (b"", b"\x01", sealed[:-1], sealed[:28], b"plain text, not sealed at all"):
        with pytest.raises(InvalidInput):
            BOX.open(foreign)


def test_keys_must_be_32_bytes() -> None:
    for key in (b"", b"short", bytes(31), bytes(33)):
        with pytest.raises(InvalidInput, match="32 bytes"):
            AesGcmSecretBox(key)


def test_repr_hides_the_key() -> None:
    assert KEY.hex() not in repr(BOX)
    assert repr(KEY) not in repr(BOX)


def test_from_home_creates_a_private_key_and_reuses_it(tmp_path: Path) -> None:
    sealed = AesGcmSecretBox.from_home(tmp_path).seal(b"survives a restart")
    key_file = tmp_path / "keys" / "secrets.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(key_file.parent.stat().st_mode) == 0o700
    assert AesGcmSecretBox.from_home(tmp_path).open(sealed) == b"survives a restart"
    assert AesGcmSecretBox.from_home(tmp_path, production=True).open(sealed) == (
        b"survives a restart"
    )


def test_from_home_in_production_refuses_a_missing_key(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match=r"secrets key .* is missing"):
        AesGcmSecretBox.from_home(tmp_path, production=True)
    assert not (tmp_path / "keys" / "secrets.key").exists()
