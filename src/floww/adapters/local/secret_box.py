"""The production secret box: AES-256-GCM from the ``cryptography`` package.

A sealed secret is ``version (1 byte) || nonce (12 bytes) || ciphertext || tag (16 bytes)``.
The version byte is authenticated too (it is the associated data), so a future format can be
told apart and nobody can relabel an old one. Nonces are random: with 96 bits, a key can seal
billions of secrets before a repeat becomes a concern, far beyond the provider configs of one
installation.
"""

from __future__ import annotations

import secrets
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from floww.adapters.local.keys import KeyStore
from floww.domain.errors import InvalidInput
from floww.ports.support import SecretBox

__all__ = ["AesGcmSecretBox"]

_VERSION = b"\x01"
_NONCE_SIZE = 12
_TAG_SIZE = 16
_KEY_SIZE = 32


class AesGcmSecretBox(SecretBox):
    """``seal`` encrypts and authenticates; ``open`` raises ``InvalidInput`` for data that was
    tampered with, sealed under another key, or is not a sealed secret at all."""

    def __init__(self, key: bytes) -> None:
        if not isinstance(key, bytes) or len(key) != _KEY_SIZE:
            raise InvalidInput(f"an AES-256-GCM key is exactly {_KEY_SIZE} bytes")
        self._aead = AESGCM(key)

    @classmethod
    def from_home(cls, home: Path, *, production: bool = False) -> AesGcmSecretBox:
        """The box keyed by ``<home>/keys/secrets.key``, created on first use outside
        production mode; ``InvalidInput`` when production mode finds it missing or weak."""
        store = KeyStore(home, purposes=("secrets",), production=production)
        return cls(store.key("secrets"))

    def __repr__(self) -> str:
        return "AesGcmSecretBox(key=<hidden>)"

    def seal(self, plaintext: bytes) -> bytes:
        nonce = secrets.token_bytes(_NONCE_SIZE)
        return _VERSION + nonce + self._aead.encrypt(nonce, bytes(plaintext), _VERSION)

    def open(self, ciphertext: bytes) -> bytes:
        if not isinstance(ciphertext, bytes | bytearray | memoryview):
            raise InvalidInput("a sealed secret is bytes")
        data = bytes(ciphertext)
        if len(data) < 1 + _NONCE_SIZE + _TAG_SIZE:
            raise InvalidInput("not a sealed secret (too short)")
        version, nonce, body = data[:1], data[1 : 1 + _NONCE_SIZE], data[1 + _NONCE_SIZE :]
        if version != _VERSION:
            raise InvalidInput(f"unknown sealed secret format {version[0]}")
        try:
            return self._aead.decrypt(nonce, body, version)
        except InvalidTag as exc:
            raise InvalidInput(
                "sealed secret was tampered with or sealed under another key"
            ) from exc
