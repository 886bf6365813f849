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


def test_a_sidecar_binds_every_byte_of_the_clip_it_was_signed_for():
    """`embed=False` (a clip too large to send back): the manifest comes alone, for the JPEG as it
    is; the JPEG's own manifest (the generator's) stays its parent ingredient, and the sidecar is
    what a reader validates. Another clip, or one changed byte, fails its data hash."""
    ours, generator = provenance.dev_chain("Registry Inc"), provenance.dev_chain("Generator Inc")
    created = {"label": "c2pa.actions.v2", "data": {"actions": [{"action": "c2pa.created", "digitalSourceType": provenance.TRAINED_ALGORITHMIC_MEDIA}]}}
    clip = _signed({"claim_generator_info": [{"name": "some-generator"}], "assertions": [created]}, generator)
    receipt = b'{"payload":{"receipt_id":"rcp_1"},"signature":"c2ln"}\n'
    signed = provenance.Embedder(ours.chain_pem, ours.key_pem).sign(clip, "image/jpeg", receipt, embed=False)
    assert signed.sidecar and signed.media_type == provenance.SIDECAR_TYPE
    found = provenance.read(clip, "image/jpeg", ours.root_pem, sidecar=signed.content)
    assert found.state == "Trusted" and found.receipt_envelope == receipt and found.claim_generator == "likeness-registry", found
    assert provenance.read(clip, "image/jpeg", ours.root_pem).claim_generator == "some-generator"  # the clip itself is unchanged
    changed = bytearray(clip)
    changed[-100] ^= 0x01
    broken = provenance.read(bytes(changed), "image/jpeg", ours.root_pem, sidecar=signed.content)
    assert broken.state == "Invalid" and "assertion.dataHash.mismatch" in broken.failures, broken
    assert provenance.read(_jpeg(), "image/jpeg", ours.root_pem, sidecar=signed.content).state == "Invalid"


def test_only_unfragmented_mp4_counts_as_embeddable():
    def box(kind: bytes, body: bytes = b"") -> bytes:
        return (8 + len(body)).to_bytes(4, "big") + kind + body

    plain = box(b"ftyp", b"isom") + box(b"moov") + box(b"mdat", b"x" * 32)
    fragmented = box(b"ftyp", b"isom") + box(b"moov") + box(b"moof") + box(b"mdat", b"x" * 32)
    assert provenance.embeddable(plain, "video/mp4") and not provenance.embeddable(fragmented, "video/mp4")
    assert not provenance.embeddable(plain, "video/webm")  # no c2pa writer for WebM at all
    assert provenance.embeddable(box(b"ftyp") + box(b"\0\0\0\0")[:6], "video/mp4")  # a truncated box ends the walk, no error
