"""An authenticated secret box built from the standard library only.

Encrypt-then-MAC: a keystream of HMAC-SHA256 blocks over (nonce, counter) is XORed with the
plaintext, and an HMAC-SHA256 tag covers version, nonce and ciphertext. It keeps the fake
honest (tampering is detected, equal plaintexts seal differently); the production box, backed
by a vetted cryptography library, lives with the server adapters.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from floww.domain.errors import InvalidInput
from floww.ports.support import SecretBox

__all__ = ["InMemorySecretBox"]

_VERSION = b"\x01"
_NONCE_SIZE = 16
_TAG_SIZE = 32
_BLOCK = 32


class InMemorySecretBox(SecretBox):
    def __init__(self, key: bytes | None = None) -> None:
        if key is not None and len(key) < 16:
            raise InvalidInput("a secret box key needs at least 16 bytes")
        master = key if key is not None else secrets.token_bytes(32)
        self._enc_key = hmac.digest(master, b"floww secret box: encryption", hashlib.sha256)
        self._mac_key = hmac.digest(master, b"floww secret box: authentication", hashlib.sha256)

    def seal(self, plaintext: bytes) -> bytes:
        nonce = secrets.token_bytes(_NONCE_SIZE)
        body = _VERSION + nonce + self._xor(nonce, plaintext)
        return body + hmac.digest(self._mac_key, body, hashlib.sha256)

    def open(self, ciphertext: bytes) -> bytes:
        if len(ciphertext) < 1 + _NONCE_SIZE + _TAG_SIZE or ciphertext[:1] != _VERSION:
            raise InvalidInput("not a sealed secret")
        body, tag = ciphertext[:-_TAG_SIZE], ciphertext[-_TAG_SIZE:]
        expected = hmac.digest(self._mac_key, body, hashlib.sha256)
        if not hmac.compare_digest(tag, expected):
            raise InvalidInput("sealed secret was tampered with or sealed under another key")
        nonce = body[1 : 1 + _NONCE_SIZE]
        return self._xor(nonce, body[1 + _NONCE_SIZE :])

    def _xor(self, nonce: bytes, data: bytes) -> bytes:
        stream = bytearray()
        counter = 0
        while len(stream) < len(data):
            block_input = nonce + counter.to_bytes(8, "big")
            stream += hmac.digest(self._enc_key, block_input, hashlib.sha256)
            counter += 1
        return bytes(a ^ b for a, b in zip(data, stream, strict=False))
