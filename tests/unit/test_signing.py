"""Signed envelopes: canonical form, every-byte tamper detection, unknown keys."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from likeness_common.crypto import Kek, load_kek, new_kek_b64
from likeness_common.errors import FailedPrecondition
from likeness_common.signing import ALGORITHM, Signature, SignatureError, canonical_json, envelope, verify_envelope


def keypair(key_id: str):
    private = Ed25519PrivateKey.generate()
    public = private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return private, {key_id: public}


def signed(private, key_id: str, payload: dict) -> bytes:
    payload = {"version": "likeness.grant.v1", "key_id": key_id, **payload}
    body = canonical_json(payload)
    return envelope("likeness.grant.v1", body, Signature(key_id, ALGORITHM, private.sign(body)))


def test_canonical_json_is_sorted_compact_utf8():
    assert canonical_json({"b": 1, "a": ["é", None]}) == '{"a":["é",null],"b":1}'.encode()
    with pytest.raises(ValueError):
        canonical_json({"x": float("nan")})


def test_any_changed_byte_fails_verification():
    private, keys = keypair("sk_1")
    doc = signed(private, "sk_1", {"grant_id": "grt_1", "talent_id": "tal_1", "modalities": ["FACE"], "name": "Zoë"})
    assert verify_envelope(doc, keys, "likeness.grant.v1")["grant_id"] == "grt_1"
    failures = 0
    for i in range(len(doc)):
        for replacement in {doc[i] ^ 0x01, ord(" ") if doc[i] != ord(" ") else ord("x")}:
            tampered = doc[:i] + bytes([replacement]) + doc[i + 1 :]
            with pytest.raises(SignatureError):
                verify_envelope(tampered, keys)
            failures += 1
    assert failures >= 2 * len(doc) - 2
    with pytest.raises(SignatureError):
        verify_envelope(doc[:-1], keys)  # truncated
    with pytest.raises(SignatureError):
        verify_envelope(doc + b" ", keys)  # appended


def test_unknown_key_wrong_type_and_wrong_key_fail():
    private, keys = keypair("sk_1")
    doc = signed(private, "sk_1", {"grant_id": "grt_1"})
    with pytest.raises(SignatureError, match="unknown signing key"):
        verify_envelope(doc, {})
    with pytest.raises(SignatureError, match="expected"):
        verify_envelope(doc, keys, "likeness.receipt.v1")
    _, other = keypair("sk_1")
    with pytest.raises(SignatureError, match="does not match"):
        verify_envelope(doc, other)
    relabeled = doc.replace(b'"type":"likeness.grant.v1"', b'"type":"likeness.receipt.v1"')
    with pytest.raises(SignatureError, match="differs from the signed payload"):
        verify_envelope(relabeled, keys)
    forged = doc.replace(b'"signature":"', b'"signature":"' + base64.b64encode(b"x" * 64)[:4], 1)
    with pytest.raises(SignatureError):
        verify_envelope(forged, keys)


def test_kek_wraps_with_aad_and_refuses_other_keys():
    kek = load_kek(new_kek_b64(), None)
    blob = kek.wrap(b"secret", b"row-1")
    assert kek.unwrap(blob, b"row-1") == b"secret" and b"secret" not in blob
    with pytest.raises(Exception):
        kek.unwrap(blob, b"row-2")  # moved to another row
    with pytest.raises(FailedPrecondition):
        Kek(b"\x01" * 32).unwrap(blob, b"row-1")
    with pytest.raises(RuntimeError):
        load_kek(base64.b64encode(b"short").decode(), None)


@pytest.mark.parametrize("schema", [1, 2])
def test_likeness_receipt_verify_accepts_every_receipt_schema(tmp_path, schema):
    """Receipts only gain fields; a schema-1 receipt (no `schema`, no coverage) signed before issue
    12 still verifies with `likeness receipt verify`, and so does a schema-2 one."""
    import json

    from typer.testing import CliRunner

    from likeness_cli.main import app

    private, keys = keypair("sk_old")
    payload = {"version": "likeness.receipt.v1", "key_id": "sk_old", "receipt_id": "rcp_1", "decision": "ALLOW", "matches": []}
    if schema == 2:
        payload |= {"schema": 2, "coverage": {"complete": True, "frames_analyzed": 1}, "review_reasons": []}
    body = canonical_json(payload)
    receipt = tmp_path / "receipt.json"
    receipt.write_bytes(envelope("likeness.receipt.v1", body, Signature("sk_old", ALGORITHM, private.sign(body))))
    key_file = tmp_path / "keys.json"
    key_file.write_text(json.dumps({"keys": [{"key_id": k, "public_key": base64.b64encode(v).decode()} for k, v in keys.items()]}))
    result = CliRunner().invoke(app, ["receipt", "verify", str(receipt), "--keys", str(key_file), "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["valid"] is True and out["payload"].get("schema", 1) == schema
    receipt.write_bytes(receipt.read_bytes().replace(b'"ALLOW"', b'"DENY"'))
    refused = CliRunner().invoke(app, ["receipt", "verify", str(receipt), "--keys", str(key_file), "--json"])
    assert refused.exit_code == 1 and json.loads(refused.output)["error"]["code"] == "INVALID_SIGNATURE"
