"""Reading a clip's own C2PA manifest (likeness_common.provenance.read): whatever its maker wrote is
typed, shortened and counted before it becomes evidence in a receipt, an answer and an event."""

from __future__ import annotations

import io
import json

from PIL import Image

from likeness_common import provenance


def _jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (120, 60, 30)).save(out, "JPEG")
    return out.getvalue()


def _signed(manifest: dict, chain: provenance.Chain) -> bytes:
    import c2pa

    info = c2pa.C2paSignerInfo(alg=b"es256", sign_cert=chain.chain_pem, private_key=chain.key_pem, ta_url=None)
    with c2pa.Builder.from_json(json.dumps(manifest)) as builder, c2pa.Signer.from_info(info) as signer:
        out = io.BytesIO()
        builder.sign(signer, "image/jpeg", io.BytesIO(_jpeg()), out)
    return out.getvalue()


def test_a_bloated_manifest_is_read_within_bounds():
    chain = provenance.dev_chain("Bloat Inc")
    manifest = {
        "claim_generator_info": [{"name": "g" * 5000}],
        "assertions": [
            {"label": "c2pa.actions.v2", "data": {"actions": [{"action": "c2pa.created", "digitalSourceType": provenance.TRAINED_ALGORITHMIC_MEDIA}]}},
            {"label": "cawg.training-mining", "data": {"entries": {f"cawg.use_{k}": {"use": "notAllowed"} for k in range(40)}}},
        ],
    }  # fmt: skip
    found = provenance.read(_signed(manifest, chain), "image/jpeg")
    assert found.state == "Valid" and found.digital_source_types == (provenance.TRAINED_ALGORITHMIC_MEDIA,)
    assert len(found.claim_generator) == provenance.MAX_TEXT and found.claim_generator.endswith("…")
    assert len(found.training_mining) == provenance.MAX_ITEMS + 1 and found.training_mining[-1] == "… 24 more"
    assert found.receipt_envelope is None  # not ours: no registry receipt in it


def test_no_manifest_and_a_broken_one_are_told_apart():
    assert provenance.read(_jpeg(), "image/jpeg").state == ""
    created = {"label": "c2pa.actions.v2", "data": {"actions": [{"action": "c2pa.created", "digitalSourceType": provenance.TRAINED_ALGORITHMIC_MEDIA}]}}
    signed = bytearray(_signed({"claim_generator_info": [{"name": "x"}], "assertions": [created]}, provenance.dev_chain("X Inc")))
    signed[len(signed) // 3] ^= 0xFF  # inside the manifest store (JPEG APP11 segments come first)
    try:
        state = provenance.read(bytes(signed), "image/jpeg").state
    except provenance.ProvenanceError:
        state = "unreadable"
    assert state in ("Invalid", "unreadable")  # present but broken: never reported as no manifest
