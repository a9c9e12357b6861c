"""Field encryption (AES-GCM with key ids) and the keyed blind index."""

import base64
import hashlib
import hmac
import os

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from jindu.core import crypto


def new_key() -> str:
    return base64.urlsafe_b64encode(os.urandom(32)).decode()


KEY_A, KEY_B, INDEX = new_key(), new_key(), new_key()


@override_settings(JINDU_FIELD_KEY=KEY_A, JINDU_INDEX_KEY=INDEX)
def test_round_trip_and_format():
    stored = crypto.encrypt("王𠀾 110101199003071233")
    prefix, kid, body = stored.split(":")
    assert prefix == "jf1"
    assert kid == crypto.key_id(base64.urlsafe_b64decode(KEY_A))
    assert "110101" not in stored
    assert stored.isascii()
    assert crypto.decrypt(stored) == "王𠀾 110101199003071233"
    assert crypto.is_encrypted(stored)
    # Random nonce: equal plaintexts give different ciphertexts.
    assert crypto.encrypt("110101199003071233") != crypto.encrypt("110101199003071233")
    assert len(crypto.encrypt("110101199003071233")) <= 80


@override_settings(JINDU_FIELD_KEY=KEY_A, JINDU_INDEX_KEY=INDEX)
def test_tampering_and_foreign_values_are_refused():
    stored = crypto.encrypt("110101199003071233")
    flipped = stored[:-2] + ("A" if stored[-2] != "A" else "B") + stored[-1]
    for bad in (flipped, "plaintext", "jf1:deadbeef:AAAA", "jf9:" + stored[4:]):
        with pytest.raises(crypto.DecryptionError):
            crypto.decrypt(bad)
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt(crypto.encrypt("x", associated_data=b"persons.person.id_number"))
    assert crypto.decrypt(crypto.encrypt("x", associated_data=b"t.c"), associated_data=b"t.c") == "x"


def test_key_rotation():
    with override_settings(JINDU_FIELD_KEY=KEY_A, JINDU_INDEX_KEY=INDEX):
        old = crypto.encrypt("110101199003071233")
    # New key first, old key kept for reading.
    with override_settings(JINDU_FIELD_KEY=f"{KEY_B},{KEY_A}", JINDU_INDEX_KEY=INDEX):
        assert crypto.decrypt(old) == "110101199003071233"
        new = crypto.encrypt("110101199003071233")
        assert new.split(":")[1] == crypto.key_id(base64.urlsafe_b64decode(KEY_B))
    with override_settings(JINDU_FIELD_KEY=[KEY_B], JINDU_INDEX_KEY=INDEX):
        assert crypto.decrypt(new) == "110101199003071233"
        with pytest.raises(crypto.DecryptionError, match="no field key"):
            crypto.decrypt(old)


def test_blind_index_is_keyed_hmac_over_type_and_value():
    with override_settings(JINDU_FIELD_KEY=KEY_A, JINDU_INDEX_KEY=INDEX):
        digest = crypto.blind_index("110101199003071233")
        expected = hmac.new(
            base64.urlsafe_b64decode(INDEX), b"resident_id\x1f110101199003071233", hashlib.sha256
        ).hexdigest()
        assert digest == expected and len(digest) == 64
        assert crypto.blind_index("110101199003071233") == digest  # deterministic
        assert crypto.blind_index("E12345678", document_type="passport") != crypto.blind_index(
            "E12345678", document_type="hk_macao_permit"
        )
    with override_settings(JINDU_FIELD_KEY=KEY_A, JINDU_INDEX_KEY=new_key()):
        assert crypto.blind_index("110101199003071233") != digest


@pytest.mark.parametrize("bad", ["", "short", base64.urlsafe_b64encode(b"x" * 16).decode(), "!!!"])
def test_misconfigured_keys(bad):
    with override_settings(JINDU_FIELD_KEY=bad, JINDU_INDEX_KEY=INDEX):
        with pytest.raises(ImproperlyConfigured):
            crypto.encrypt("x")
    with override_settings(JINDU_FIELD_KEY=KEY_A, JINDU_INDEX_KEY=bad):
        with pytest.raises(ImproperlyConfigured):
            crypto.blind_index("x")


def test_project_settings_keys_work():
    # The keys generated into var/secrets.json (or set in the environment) are usable.
    assert crypto.decrypt(crypto.encrypt("ok")) == "ok"
    assert len(crypto.blind_index("ok")) == 64
