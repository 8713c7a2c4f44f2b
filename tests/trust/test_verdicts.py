"""The verdict cache and the signed-object split, without any tool."""
from __future__ import annotations

import json
import time

import pytest

from shaker_core.signatures import PGP_ARMOR, SSH_ARMOR, Signer, split_signed
from shaker_core.verdicts import VerdictCache

OID = "0123456789abcdef0123456789abcdef01234567"
FPR = "85359EE39D9F1C83A55E24E6CE105345DC23CC39"


def test_a_verdict_is_kept_for_the_same_object_and_key_set_only(tmp_path):
    cache = VerdictCache(tmp_path / "v.json")
    cache.put(OID, "keys-1", Signer("openpgp", FPR))
    cache.save()
    again = VerdictCache(tmp_path / "v.json")
    assert again.get(OID, "keys-1") == Signer("openpgp", FPR)
    assert again.get(OID, "keys-2") is None
    assert again.get(OID.replace("0", "f"), "keys-1") is None


def test_a_verdict_ends_when_its_key_or_signature_expires(tmp_path):
    cache = VerdictCache(tmp_path / "v.json")
    cache.put(OID, "k", Signer("openpgp", FPR, valid_until=time.time() - 1))
    cache.put(OID[::-1], "k", Signer("ssh", "SHA256:abc", valid_until=time.time() + 3600))
    assert cache.get(OID, "k") is None
    assert cache.get(OID[::-1], "k") is not None


@pytest.mark.parametrize("content", ["", "not json", "[]", json.dumps({"x": {"signer": 3}}), json.dumps({"x": "y"})])
def test_a_damaged_cache_file_reads_as_empty(tmp_path, content):
    (tmp_path / "v.json").write_text(content)
    cache = VerdictCache(tmp_path / "v.json")
    assert cache.get(OID, "k") is None
    cache.put(OID, "k", Signer("ssh", "SHA256:abc"))
    cache.save()
    assert VerdictCache(tmp_path / "v.json").get(OID, "k") == Signer("ssh", "SHA256:abc")


def test_nothing_is_written_when_nothing_was_added(tmp_path):
    cache = VerdictCache(tmp_path / "v.json")
    assert cache.get(OID, "k") is None
    cache.save()
    assert not (tmp_path / "v.json").exists()


def test_a_cache_that_cannot_be_written_only_costs_a_check(tmp_path):
    (tmp_path / "ro").mkdir()
    (tmp_path / "ro" / "v.json").mkdir()  # a directory where the file should be: the write fails
    cache = VerdictCache(tmp_path / "ro" / "v.json")
    cache.put(OID, "k", Signer("ssh", "SHA256:abc"))
    cache.save()  # no exception


TAG = b"object " + OID.encode() + b"\ntype commit\ntag v1.0.0\ntagger a <a@x> 1 +0000\n\nrelease\n"


@pytest.mark.parametrize("armor", [PGP_ARMOR, SSH_ARMOR])
def test_a_tag_is_split_at_its_last_signature_block(armor):
    signature = armor + b"\nAAAA\n-----END SIGNATURE-----\n"
    quoted = TAG + b"the notes quote one:\n" + PGP_ARMOR + b"\n"
    assert split_signed(quoted + signature) == (quoted, signature)
    assert split_signed(TAG) is None
    assert split_signed(TAG.replace(b"release", b"release " + armor)) is None  # not at the start of a line
