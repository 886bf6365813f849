"""`likeness verify FILE` (as a platform) and `likeness receipt get|verify`."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import grpc
import typer
from google.longrunning import operations_pb2_grpc
from google.longrunning import operations_proto_pb2 as lro
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

from likeness.consent.v1 import consent_pb2 as cpb
from likeness.enrollment.v1 import enrollment_pb2 as epb
from likeness.verification.v1 import verification_pb2 as vpb
from likeness.verification.v1 import verification_pb2_grpc
from likeness_common.documents import C2PA_LABEL, RECEIPT_TYPE, c2pa_assertion
from likeness_common.signing import Signature, SignatureError, envelope, verify_envelope

from .client import CliError, connect, request_id
from .common import ApiKey, Json, Keys, Target, command, read_file, write_file
from .consent_cmds import fetch_keys, load_c2pa_anchor, load_keys, purpose_value, verify_document
from .output import emit, err_console, progress

receipt_app = typer.Typer(no_args_is_help=True, help="Signed verification receipts.")
operation_app = typer.Typer(no_args_is_help=True, help="Long-running Verify operations (clips past the synchronous budget).")

STREAM_ABOVE = 16 * 1024 * 1024  # larger files go through VerifyStream
CHUNK = 1024 * 1024

ReceiptOut = Annotated[Path | None, typer.Option("--receipt", help="Write the signed receipt (JSON) to this file.")]
C2pa = Annotated[bool, typer.Option("--c2pa", help=f"Write the receipt as a C2PA custom assertion (label {C2PA_LABEL}).")]


def _stub(target: str | None, api_key: str | None):
    conn = connect("verification", target, api_key)
    return verification_pb2_grpc.VerificationServiceStub(conn.channel()), conn.metadata


def _operations(target: str | None, api_key: str | None):
    conn = connect("verification", target, api_key)
    return operations_pb2_grpc.OperationsStub(conn.channel()), conn.metadata


def receipt_document(v: vpb.Verification, c2pa: bool = False) -> bytes:
    r = v.receipt
    doc = envelope(RECEIPT_TYPE, r.canonical_payload, Signature(r.key_id, r.algorithm, r.signature))
    return c2pa_assertion(doc) if c2pa else doc


def coverage_summary(c: vpb.Coverage) -> dict:
    """The coverage record as plain JSON (the `coverage` object of `likeness verify --json`)."""
    return {
        "complete": c.complete,
        "incomplete_reasons": list(c.incomplete_reasons),
        "media_seconds": round(c.media_seconds, 3),
        "sample_fps": round(c.sample_fps, 3),
        "frames_in_clip": c.frames_in_clip,
        "frames_sampled": c.frames_sampled,
        "frames_analyzed": c.frames_analyzed,
        "frames_skipped_unchanged": c.frames_skipped_unchanged,
        "max_gap_s": round(c.max_gap_seconds, 3),
        "max_gap_allowed_s": round(c.max_gap_allowed_seconds, 3),
        "audio_track": c.audio_track,
        "audio_seconds": round(c.audio_seconds, 3),
        "speech_seconds": round(c.speech_seconds, 3),
        "voice_windows": c.voice_windows,
        "speech_snr_db": round(c.speech_snr_db, 1),
        "speech_high_band_share": round(c.speech_high_band_share, 5),
        "decode_errors": list(c.decode_errors),
        "skip_rule": c.skip_rule,
    }


def coverage_line(c: vpb.Coverage) -> str:
    """The coverage in one line, for people (CLI and console)."""
    parts = []
    if c.sample_fps > 0:
        parts.append(f"{c.frames_analyzed} of {c.frames_sampled} sampled frames analysed ({c.frames_skipped_unchanged} unchanged), "
                     f"{c.frames_in_clip} frames in {c.media_seconds:.1f} s, longest gap {c.max_gap_seconds:.2f} s")  # fmt: skip
    elif c.frames_in_clip:
        parts.append("still image")
    if c.audio_track:
        parts.append(f"audio {c.audio_seconds:.1f} s, speech {c.speech_seconds:.1f} s in {c.voice_windows} windows")
    elif c.sample_fps > 0:
        parts.append("no audio track")
    head = "complete" if c.complete else "INCOMPLETE (" + ", ".join(c.incomplete_reasons) + ")"
    return f"{head}: " + "; ".join(parts)


def _summary(v: vpb.Verification) -> dict:
    return {
        "verification_id": v.verification_id,
        "decision": vpb.Decision.Name(v.decision).removeprefix("DECISION_"),
        "review_reasons": [vpb.ReviewReason.Name(r).removeprefix("REVIEW_REASON_") for r in v.review_reasons],
        "coverage": coverage_summary(v.coverage) if v.HasField("coverage") else None,
        "coverage_line": coverage_line(v.coverage) if v.HasField("coverage") else "not recorded (receipt schema 1)",
        "matches": [
            {"talent_id": m.talent_id, "modality": epb.Modality.Name(m.modality).removeprefix("MODALITY_"), "score": round(m.score, 4),
             "review_band": m.in_review_band, "start_s": round(m.start_seconds, 3), "end_s": round(m.end_seconds, 3),
             "frame": m.frame_index, "grant_id": m.grant_id,
             "denial": cpb.DenialReason.Name(m.denial_reason).removeprefix("DENIAL_REASON_") if m.denial_reason else "",
             "dispute_id": m.dispute_id, "talent_identity_verified": m.talent_identity_verified,
             "impostors": m.impostors if m.HasField("impostors") else None}
            for m in v.matches
        ],  # fmt: skip
        "grant_ids": list(v.grant_ids),
        "conditions": [{"kind": c.kind, "value": c.value} for c in v.conditions],
        "media_sha256": v.media_sha256,
        "media_type": v.media_type,
        "frames_analyzed": v.frames_analyzed,
        "consistency_token": v.consistency_token,
        "receipt_id": v.receipt.receipt_id,
    }


def _human(s: dict) -> str:
    reasons = f" ({', '.join(s['review_reasons'])})" if s["review_reasons"] else ""
    lines = [f"{s['decision']}{reasons}  {s['verification_id']}  ({s['media_type']}, receipt {s['receipt_id']})",
             f"  coverage: {s['coverage_line']}"]  # fmt: skip
    for m in s["matches"]:
        where = f"frame {m['frame']} at {m['start_s']}s" if m["modality"] == "FACE" else f"{m['start_s']}-{m['end_s']}s"
        verdict = f"covered by {m['grant_id']}" if m["grant_id"] else f"not covered: {m['denial']}"
        band = " (review band)" if m["review_band"] else ""
        disputed = f"  likeness disputed: {m['dispute_id']}" if m["dispute_id"] else ""
        identity = "identity verified" if m["talent_identity_verified"] else "identity not verified"
        odds = f" (strangers expected this close: {m['impostors']:.1e})" if m["impostors"] is not None else ""
        lines.append(f"  {m['talent_id']} ({identity})  {m['modality'].lower()} {m['score']:.3f}{odds}{band}  {where}  {verdict}{disputed}")
    lines += [f"  condition: {c['kind']} = {c['value']}" for c in s["conditions"]]
    return "\n".join(lines)


def _write_receipt(v: vpb.Verification, path: Path | None, c2pa: bool) -> None:
    if path is not None:
        write_file(path, receipt_document(v, c2pa))


@command
def verify(
    file: Path,
    purpose: Annotated[str, typer.Option(help="advertising, dubbing, synthetic-performance, training, editorial, or a custom word.")],
    territory: Annotated[str, typer.Option(help="ISO 3166-1 alpha-2 code where the clip is published.")] = "",
    token: Annotated[str, typer.Option("--token", help="Consistency token from a grant or revoke (at_least_as_fresh).")] = "",
    receipt: ReceiptOut = None,
    c2pa: C2pa = False,
    embed: Annotated[Path | None, typer.Option("--embed", help="Write the clip with the registry's C2PA manifest (the signed receipt) embedded to this file; where c2pa cannot embed (WebM, Matroska, Ogg, fragmented MP4, clips too large for one answer), the clip as uploaded plus the manifest beside it as <file>.c2pa.")] = None,
    long: Annotated[bool, typer.Option("--long", help="Upload as a long-running operation even if Verify would take it.")] = False,
    no_wait: Annotated[bool, typer.Option("--no-wait", help="With a long-running operation: print its name and return.")] = False,
    target: Target = None,
    api_key: ApiKey = None,
    as_json: Json = False,
) -> None:
    """Check a clip (image, audio or video) before publishing it: who is in it, and does consent cover them?

    Clips past the server's synchronous budget (long videos and audio) go through a long-running
    operation, with a progress bar: automatically when Verify says so, or with --long."""
    media = read_file(file)
    purpose_code, custom = purpose_value(purpose)
    params = vpb.VerifyParameters(request_id=request_id(), purpose=purpose_code, custom_purpose=custom, territory=territory,
                                  at_least_as_fresh=token, embed_c2pa=embed is not None)  # fmt: skip
    stub, md = _stub(target, api_key)
    v = None
    if not long:
        try:
            with progress(f"analysing {file.name} ({len(media) / 1e6:.1f} MB)", as_json):
                if len(media) > STREAM_ABOVE and embed is not None:
                    answer = _verify_stream_signed(stub, params, media, md)
                elif len(media) > STREAM_ABOVE:
                    answer = stub.VerifyStream(_chunks(params, media), metadata=md, timeout=600)
                else:
                    answer = stub.Verify(vpb.VerifyRequest(parameters=params, media=media), metadata=md, timeout=600)
            v = answer.verification
        except grpc.RpcError as error:
            if CliError.from_rpc(error).reason != "USE_LONG_RUNNING_OPERATION":
                raise
    if v is None:
        op = stub.StartVerifyOperation(_chunks(params, media), metadata=md, timeout=600)
        if no_wait:
            emit(_operation_summary(op), as_json, f"started {op.name}; follow it with: likeness operation wait {op.name}")
            return
        answer = _wait(op.name, target, api_key, as_json, f"analysing {file.name}")
        v = answer.verification
    written = _write_signed(answer.signed_media, media, embed) if embed is not None else {}
    _write_receipt(v, receipt, c2pa)
    summary = _summary(v) | ({"receipt_file": str(receipt)} if receipt else {}) | written
    emit(summary, as_json, _human(summary) + (f"\nsigned clip (C2PA manifest with the receipt): {_signed_line(written)}" if embed else ""))


def _verify_stream_signed(stub, params: vpb.VerifyParameters, media: bytes, md) -> vpb.VerifyStreamResponse:
    """VerifyStreamSigned: the answer, then the signed clip in chunks (a clip of any size the stream
    accepts comes back embedded), put back together as one VerifyStreamResponse."""
    answer, chunks = None, []
    for message in stub.VerifyStreamSigned(_chunks(params, media), metadata=md, timeout=600):
        if message.WhichOneof("part") == "answer":
            answer = message.answer
        else:
            chunks.append(message.chunk)
    if answer is None:
        raise CliError("the server ended VerifyStreamSigned without an answer")
    answer.signed_media.content = b"".join(chunks)
    return answer


def _write_signed(signed: vpb.SignedMedia, media: bytes, path: Path) -> dict:
    """The signed clip at `path`; or, for a sidecar, the clip as uploaded at `path` and the
    manifest beside it (`path` with the suffix .c2pa, where C2PA readers look for it)."""
    if not signed.content:
        raise CliError("the server returned no signed clip")
    files = {path: media, sidecar_path(path): signed.content} if signed.sidecar else {path: signed.content}
    for file, data in files.items():
        write_file(file, data)
    return {"signed_media_file": str(path)} | ({"c2pa_sidecar_file": str(sidecar_path(path))} if signed.sidecar else {})


def _signed_line(written: dict) -> str:
    sidecar = written.get("c2pa_sidecar_file")
    return f"{written['signed_media_file']}" + (f" (manifest beside it: {sidecar}; c2pa cannot embed into this format)" if sidecar else "")


def sidecar_path(clip: Path) -> Path:
    return clip.with_suffix(".c2pa")



def _operation_summary(op: lro.Operation) -> dict:
    meta = vpb.VerifyOperationMetadata()
    op.metadata.Unpack(meta)
    out = {"name": op.name, "done": op.done, "state": vpb.VerifyOperationMetadata.State.Name(meta.state).removeprefix("STATE_"),
           "progress_percent": round(meta.progress_percent, 1), "attempts": meta.attempts, "media_seconds": round(meta.media_seconds, 3)}  # fmt: skip
    if op.HasField("error"):
        out["error"] = {"code": grpc.StatusCode(_code(op.error.code)).name if _code(op.error.code) else op.error.code, "message": op.error.message}
    if op.HasField("response"):
        response = vpb.VerifyResponse()
        op.response.Unpack(response)
        out["verification"] = _summary(response.verification)
    return out


def _code(number: int):
    return next((c for c in grpc.StatusCode if c.value[0] == number), None)


def _wait(name: str, target: str | None, api_key: str | None, quiet: bool, label: str) -> vpb.VerifyResponse:
    """Poll the operation with a progress bar until it is done; its answer, or a CliError."""
    ops, md = _operations(target, api_key)
    with Progress(TextColumn(label), BarColumn(), TaskProgressColumn(), TextColumn("{task.fields[state]}"), TimeElapsedColumn(),
                  console=err_console, disable=quiet, transient=True) as bar:  # fmt: skip
        task = bar.add_task("operation", total=100, state="queued")
        while True:
            op = ops.GetOperation(lro.GetOperationRequest(name=name), metadata=md, timeout=30)
            summary = _operation_summary(op)
            bar.update(task, completed=summary["progress_percent"], state=summary["state"].lower())
            if op.done:
                break
            time.sleep(0.5)
    if op.HasField("error"):
        code = _code(op.error.code)
        raise CliError(op.error.message, code=code.name if code else str(op.error.code), reason=_reason(op.error))
    response = vpb.VerifyResponse()
    op.response.Unpack(response)
    return response


def _reason(status) -> str:
    from google.rpc import error_details_pb2

    for detail in status.details:
        info = error_details_pb2.ErrorInfo()
        if detail.Unpack(info):
            return info.reason
    return ""


@operation_app.command("get")
@command
def operation_get(name: str, target: Target = None, api_key: ApiKey = None, as_json: Json = False) -> None:
    """Show a long-running Verify operation (its verification once done)."""
    ops, md = _operations(target, api_key)
    summary = _operation_summary(ops.GetOperation(lro.GetOperationRequest(name=name), metadata=md))
    human = f"{summary['name']}  {summary['state']}  {summary['progress_percent']:.0f}%"
    if "verification" in summary:
        human += "\n" + _human(summary["verification"])
    elif "error" in summary:
        human += f"\n  {summary['error']['code']}: {summary['error']['message']}"
    emit(summary, as_json, human)


@operation_app.command("wait")
@command
def operation_wait(name: str, receipt: ReceiptOut = None, c2pa: C2pa = False,
                   sidecar: Annotated[Path | None, typer.Option("--sidecar", help="Write the C2PA sidecar (started with --embed) to this file: <clip>.c2pa.")] = None,
                   target: Target = None, api_key: ApiKey = None, as_json: Json = False) -> None:  # fmt: skip
    """Wait for a long-running Verify operation, with a progress bar; print its verification."""
    answer = _wait(name, target, api_key, as_json, name)
    v = answer.verification
    _write_receipt(v, receipt, c2pa)
    if sidecar is not None:
        if not answer.signed_media.sidecar:
            raise CliError(f"{name} was not started with --embed: it has no C2PA sidecar", code="NO_C2PA_MANIFEST")
        write_file(sidecar, answer.signed_media.content)
    summary = _summary(v) | ({"receipt_file": str(receipt)} if receipt else {}) | ({"c2pa_sidecar_file": str(sidecar)} if sidecar else {})
    emit(summary, as_json, _human(summary))


@operation_app.command("cancel")
@command
def operation_cancel(name: str, target: Target = None, api_key: ApiKey = None, as_json: Json = False) -> None:
    """Cancel a long-running Verify operation (a queued one at once, a running one within seconds)."""
    ops, md = _operations(target, api_key)
    ops.CancelOperation(lro.CancelOperationRequest(name=name), metadata=md)
    summary = _operation_summary(ops.GetOperation(lro.GetOperationRequest(name=name), metadata=md))
    emit(summary, as_json, f"{summary['name']}  {summary['state']}")


def _chunks(params: vpb.VerifyParameters, media: bytes) -> Iterator[vpb.VerifyStreamRequest]:
    yield vpb.VerifyStreamRequest(parameters=params)
    for start in range(0, len(media), CHUNK):
        yield vpb.VerifyStreamRequest(chunk=media[start : start + CHUNK])


@receipt_app.command("get")
@command
def receipt_get(verification_id: str, out: Annotated[Path | None, typer.Option("--out", help="Write the signed receipt to this file.")] = None, c2pa: C2pa = False, target: Target = None, api_key: ApiKey = None,
                as_json: Json = False) -> None:  # fmt: skip
    """Fetch a verification and its signed receipt (a platform its own, an operator any)."""
    stub, md = _stub(target, api_key)
    v = stub.GetReceipt(vpb.GetReceiptRequest(verification_id=verification_id), metadata=md).verification
    _write_receipt(v, out, c2pa)
    summary = _summary(v)
    emit(summary, as_json, _human(summary))


@receipt_app.command("verify")
@command
def receipt_verify(
    file: Path,
    keys: Keys = None,
    target: Target = None,
    c2pa_root: Annotated[Path | None, typer.Option("--c2pa-root", help="The registry's C2PA root certificate (PEM): a signed clip must chain to it (default: the one in the --keys file).")] = None,
    sidecar: Annotated[Path | None, typer.Option("--sidecar", help="The clip's .c2pa manifest (default: <clip>.c2pa beside it, when the clip holds no registry manifest of its own).")] = None,
    as_json: Json = False,
) -> None:
    """Verify a receipt offline: a JSON receipt, its C2PA assertion form, or a clip signed with
    `likeness verify --embed` (its C2PA manifest is validated, then the receipt inside it). Any
    changed byte fails."""
    data = read_file(file)
    if data[:64].lstrip().startswith(b"{"):
        verify_document(file, data, keys, target, RECEIPT_TYPE, as_json)
        return
    verify_signed_clip(file, data, keys, target, c2pa_root, sidecar, as_json)


def verify_signed_clip(file: Path, data: bytes, keys: Path | None, target: str | None, c2pa_root: Path | None, sidecar: Path | None,
                       as_json: bool) -> None:  # fmt: skip
    """The clip's C2PA manifest, which must chain to the registry's root (`c2pa_root`, else the
    trust anchor in the `keys` file from `likeness keys export`): that signature is what binds the
    receipt to these bytes (a receipt copied into another clip under someone else's manifest would
    otherwise pass); then the receipt's own Ed25519 signature."""
    anchor_from = c2pa_root or keys
    root = read_file(c2pa_root) if c2pa_root else load_c2pa_anchor(keys) if keys else None
    if root is None:
        raise CliError(f"{file}: a signed clip is checked against the registry's C2PA root: pass --keys with a file from "
                       "`likeness keys export` (it holds the root), or --c2pa-root (the dev stack's is .likeness/c2pa/c2pa-root.pem)",
                       code="C2PA_ROOT_REQUIRED")  # fmt: skip
    from likeness_biometrics import BiometricError
    from likeness_biometrics.media import sniff
    from likeness_common import provenance

    try:
        media_type = sniff(data).mime
    except BiometricError as error:
        raise CliError(f"{file}: neither a receipt nor media the registry reads ({error})", code="UNSUPPORTED_MEDIA_TYPE") from None
    beside = sidecar_path(file)
    try:
        found = provenance.read(data, media_type, root, read_file(sidecar) if sidecar else None)
        # A sidecar beside the clip binds it when its own manifest is absent or not the registry's
        # (a generator's manifest in a clip too large to come back embedded).
        if sidecar is None and beside.is_file() and (found.state != "Trusted" or found.receipt_envelope is None):
            sidecar, found = beside, provenance.read(data, media_type, root, read_file(beside))
    except provenance.ProvenanceError as error:
        raise CliError(f"{file}: NOT VALID: {error}", code="INVALID_C2PA") from None
    if not found.state:
        raise CliError(f"{file}: no C2PA manifest in this {media_type} (nor a sidecar {beside})", code="NO_C2PA_MANIFEST")
    if found.state == "Invalid":
        raise CliError(f"{file}: NOT VALID: the C2PA manifest fails validation ({', '.join(found.failures) or 'invalid'})", code="INVALID_C2PA")
    if found.state != "Trusted":
        raise CliError(f"{file}: NOT VALID: the C2PA signer ({found.signer}) does not chain to the root in {anchor_from}", code="UNTRUSTED_C2PA")
    if found.receipt_envelope is None:
        raise CliError(f"{file}: its C2PA manifest holds no likeness registry receipt", code="NO_RECEIPT")
    public = load_keys(keys) if keys else fetch_keys(target)
    try:
        payload = verify_envelope(found.receipt_envelope, public, RECEIPT_TYPE)
    except SignatureError as error:
        raise CliError(f"{file}: NOT VALID: the receipt in its manifest: {error}", code="INVALID_SIGNATURE") from None
    summary = {"valid": True, "type": RECEIPT_TYPE, "id": payload.get("receipt_id"), "key_id": payload.get("key_id"),
               "c2pa": {"state": found.state, "signer": found.signer, "digital_source_types": list(found.digital_source_types),
                        "sidecar": str(sidecar) if sidecar else None},
               "decision": payload.get("decision"), "payload": payload}  # fmt: skip
    where = f" in {sidecar}" if sidecar else ""
    emit(summary, as_json, f"{file}: C2PA manifest{where} {found.state} (signer {found.signer}); valid receipt {payload.get('receipt_id')} "
                           f"({payload.get('decision')}), signed by {payload.get('key_id')}")  # fmt: skip
