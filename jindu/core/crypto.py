"""Personal-data crypto: field encryption and keyed blind indexes.

Encryption (``encrypt`` / ``decrypt``)
    AES-256-GCM from the ``cryptography`` library. Stored form (ASCII, fits a
    ``varchar``)::

        jf1:<key id>:<base64url(nonce ‖ ciphertext ‖ tag), unpadded>

    ``jf1`` is the format version; the key id is the first 8 hex digits of
    SHA-256 over ``b"jindu-field-key-id" ‖ key``, so it names a key without revealing it;
    the nonce is 12 random bytes per encryption (the same plaintext encrypts differently
    every time, so ciphertext can never be compared or looked up — use the blind index).
    An 18-character identity number becomes about 76 characters.

    Keys come from ``settings.JINDU_FIELD_KEY``: base64url of 32 random bytes
    (``jindu.secrets`` generates one into ``var/secrets.json``; production sets the
    ``JINDU_FIELD_KEY`` environment variable). **Rotation**: the setting may hold several
    keys separated by commas, or be a list; the first encrypts, every one decrypts (chosen
    by key id). To rotate, put the new key first and keep the old one after it, re-save
    the encrypted rows (a re-encryption job), then drop the old key.

Blind index (``blind_index``)
    HMAC-SHA256 keyed with ``settings.JINDU_INDEX_KEY`` (same format, a single key) over
    ``"<document type>\\x1f<normalised number>"`` (UTF-8), as 64 lower-case hex digits.
    Deterministic, so equal normalised numbers of the same document type give equal digests:
    exact look-up and a database unique constraint work on the digest while the number
    itself stays encrypted. The document type is part of the message so a passport and a
    travel permit with the same number are different keys. Callers pass the *normalised*
    value (``jindu.core.idnumbers``); ``IdentityNumberField`` does this for you. Changing
    the index key changes every digest: rebuild them from the decrypted values in one job.

Errors: ``ImproperlyConfigured`` for a missing or malformed key, :class:`DecryptionError`
for a value that is not ours, was made with an unknown key, or was tampered with.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import os
from typing import Iterable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed

__all__ = ["encrypt", "decrypt", "is_encrypted", "blind_index", "key_id", "DecryptionError", "PREFIX"]

PREFIX = "jf1"
_NONCE_BYTES = 12


class DecryptionError(ValueError):
    """A stored value could not be decrypted (unknown key id, tampering, not our format)."""


def _decode_key(text: str, setting: str) -> bytes:
    try:
        raw = base64.urlsafe_b64decode(text.strip() + "=" * (-len(text.strip()) % 4))
    except (binascii.Error, ValueError):
        raise ImproperlyConfigured(f"{setting} must be base64url of 32 bytes") from None
    if len(raw) != 32:
        raise ImproperlyConfigured(f"{setting} must be base64url of 32 bytes, got {len(raw)} bytes")
    return raw


def key_id(key: bytes) -> str:
    """The 8-hex-digit id naming a 32-byte field key inside ciphertexts."""
    return hashlib.sha256(b"jindu-field-key-id" + key).hexdigest()[:8]


def _split(value: str | Iterable[str] | None) -> list[str]:
    if not value:
        return []
    if isinstance(value, str):
        return [part for part in value.split(",") if part.strip()]
    return [part for part in value if part]


@functools.cache
def _field_keys() -> tuple[tuple[str, AESGCM], dict[str, AESGCM]]:
    texts = _split(getattr(settings, "JINDU_FIELD_KEY", None))
    if not texts:
        raise ImproperlyConfigured("JINDU_FIELD_KEY is not set")
    keys = [_decode_key(t, "JINDU_FIELD_KEY") for t in texts]
    by_id = {key_id(k): AESGCM(k) for k in keys}
    current = key_id(keys[0])
    return (current, by_id[current]), by_id


@functools.cache
def _index_key() -> bytes:
    text = getattr(settings, "JINDU_INDEX_KEY", None)
    if not text:
        raise ImproperlyConfigured("JINDU_INDEX_KEY is not set")
    return _decode_key(text, "JINDU_INDEX_KEY")


def _clear_caches(*, setting: str, **kwargs) -> None:
    if setting in ("JINDU_FIELD_KEY", "JINDU_INDEX_KEY"):
        _field_keys.cache_clear()
        _index_key.cache_clear()


setting_changed.connect(_clear_caches)


def encrypt(plaintext: str, *, associated_data: bytes = b"") -> str:
    """Encrypt ``plaintext`` (str) with the current field key; returns the stored form.

    ``associated_data`` is authenticated but not stored; the same bytes must be given to
    :func:`decrypt` (use it to bind a value to its table and column if wanted).
    """
    kid, aead = _field_keys()[0]
    nonce = os.urandom(_NONCE_BYTES)
    sealed = aead.encrypt(nonce, plaintext.encode("utf-8"), associated_data or None)
    body = base64.urlsafe_b64encode(nonce + sealed).decode("ascii").rstrip("=")
    return f"{PREFIX}:{kid}:{body}"


def is_encrypted(value: str) -> bool:
    """Whether ``value`` looks like our stored form (prefix check only)."""
    return isinstance(value, str) and value.startswith(PREFIX + ":")


def decrypt(stored: str, *, associated_data: bytes = b"") -> str:
    """The plaintext of a value made by :func:`encrypt`. Raises :class:`DecryptionError`."""
    try:
        prefix, kid, body = stored.split(":", 2)
    except (AttributeError, ValueError):
        raise DecryptionError("not an encrypted value") from None
    if prefix != PREFIX:
        raise DecryptionError(f"unknown encryption format {prefix!r}")
    aead = _field_keys()[1].get(kid)
    if aead is None:
        raise DecryptionError(f"no field key with id {kid} is configured (JINDU_FIELD_KEY)")
    try:
        blob = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        plain = aead.decrypt(blob[:_NONCE_BYTES], blob[_NONCE_BYTES:], associated_data or None)
    except (binascii.Error, ValueError, InvalidTag):
        raise DecryptionError("encrypted value is damaged or was altered") from None
    return plain.decode("utf-8")


def blind_index(normalized: str, *, document_type: str = "resident_id") -> str:
    """HMAC-SHA256 (hex, 64 chars) of ``document_type`` and an already-normalised number."""
    message = f"{document_type}\x1f{normalized}".encode("utf-8")
    return hmac.new(_index_key(), message, hashlib.sha256).hexdigest()
