"""`likeness enroll face|voice ...`, `likeness talent erase ...` and `likeness dispute list|get|resolve`."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from google.protobuf import duration_pb2
from rich.progress import BarColumn, Progress, TextColumn

from likeness.enrollment.v1 import enrollment_pb2 as epb
from likeness.enrollment.v1 import enrollment_pb2_grpc
from likeness_common.proto import ts

from .client import CliError, connect, request_id
from .common import ApiKey, Json, Target, command, paged, read_file
from .output import emit, err_console, progress

enroll_app = typer.Typer(no_args_is_help=True, help="Enroll a talent's face or voice.")
dispute_app = typer.Typer(no_args_is_help=True, help="Likeness disputes: two talent records, one face or voice.")

DEFAULT_PURPOSE = "Matching generated media against this talent's likeness to enforce their consent decisions."

Purpose = Annotated[str, typer.Option("--notice-purpose", help="Purpose text of the biometric notice the talent accepted.")]
Retention = Annotated[int, typer.Option("--retention-days", help="Retention period the notice states.")]
AcceptedAt = Annotated[str | None, typer.Option("--notice-accepted-at", help="When the talent accepted (ISO 8601); default now.")]
NoticeVersion = Annotated[str, typer.Option("--notice-version", help="Version of the notice text.")]


def _stub(target: str | None, api_key: str | None):
    conn = connect("enrollment", target, api_key)
    return enrollment_pb2_grpc.EnrollmentServiceStub(conn.channel()), conn.metadata


def _read(files: list[Path], show: bool) -> list[epb.MediaSample]:
    samples = []
    with Progress(TextColumn("reading"), BarColumn(), TextColumn("{task.completed}/{task.total}"), console=err_console,
                  disable=not show, transient=True) as progress:  # fmt: skip
        task = progress.add_task("read", total=len(files))
        for path in files:
            samples.append(epb.MediaSample(filename=path.name, content=read_file(path)))
            progress.advance(task)
    return samples


def _notice(purpose: str, retention_days: int, accepted_at: str | None, version: str) -> epb.BiometricNotice:
    if retention_days <= 0:
        raise CliError("--retention-days must be positive")
    try:
        when = datetime.fromisoformat(accepted_at.replace("Z", "+00:00")) if accepted_at else datetime.now(UTC)
    except ValueError:
        raise CliError(f"--notice-accepted-at: not an ISO 8601 time: {accepted_at!r}") from None
    return epb.BiometricNotice(purpose_text=purpose, retention=duration_pb2.Duration(seconds=retention_days * 86400),
                               accept_time=ts(when), notice_version=version)  # fmt: skip


def _enroll(modality: str, talent_id: str, files: list[Path], notice: epb.BiometricNotice, target, api_key, as_json: bool) -> None:
    stub, md = _stub(target, api_key)
    samples = _read(files, not as_json)
    with progress(f"analysing {len(samples)} {modality} sample(s)", as_json):
        if modality == "face":
            resp = stub.EnrollFace(epb.EnrollFaceRequest(request_id=request_id(), talent_id=talent_id, notice=notice, images=samples),
                                   metadata=md, timeout=600)  # fmt: skip
        else:
            resp = stub.EnrollVoice(epb.EnrollVoiceRequest(request_id=request_id(), talent_id=talent_id, notice=notice, clips=samples),
                                    metadata=md, timeout=600)  # fmt: skip
    rejected = [{"file": r.filename, "reason": epb.SampleRejection.Name(r.rejection).removeprefix("SAMPLE_REJECTION_"), "detail": r.detail}
                for r in resp.results if not r.accepted]  # fmt: skip
    result = {"enrollment_id": resp.enrollment.enrollment_id, "talent_id": talent_id, "modality": modality,
              "accepted": resp.enrollment.accepted_samples, "rejected": rejected,
              "quality": [round(r.quality, 3) for r in resp.results if r.accepted],
              "model": f"{resp.enrollment.model_name} {resp.enrollment.model_version}",
              "state": _name(epb.EnrollmentState, resp.enrollment.state, "ENROLLMENT_STATE_"),
              "dispute_ids": list(resp.enrollment.dispute_ids), "warnings": [w.detail for w in resp.warnings]}  # fmt: skip
    human = f"enrolled {modality} {resp.enrollment.enrollment_id}: {resp.enrollment.accepted_samples} accepted, {result['state']}" + "".join(
        f"\n  rejected {r['file']}: {r['reason']} {r['detail']}" for r in rejected) + "".join(
        f"\n  held in likeness dispute {d} (likeness dispute get {d})" for d in result["dispute_ids"]) + "".join(
        f"\n  warning: {w}" for w in result["warnings"])  # fmt: skip
    emit(result, as_json, human)


def _name(enum_type, value: int, prefix: str) -> str:
    return enum_type.Name(value).removeprefix(prefix) if value in enum_type.values() else str(value)


@enroll_app.command("face")
@command
def enroll_face(talent_id: str, images: list[Path], purpose: Purpose = DEFAULT_PURPOSE, retention_days: Retention = 365,
                accepted_at: AcceptedAt = None, version: NoticeVersion = "v1", target: Target = None, api_key: ApiKey = None,
                as_json: Json = False) -> None:  # fmt: skip
    """Enroll a face from photos (JPEG, PNG, WebP)."""
    _enroll("face", talent_id, images, _notice(purpose, retention_days, accepted_at, version), target, api_key, as_json)


@enroll_app.command("voice")
@command
def enroll_voice(talent_id: str, clips: list[Path], purpose: Purpose = DEFAULT_PURPOSE, retention_days: Retention = 365,
                 accepted_at: AcceptedAt = None, version: NoticeVersion = "v1", target: Target = None, api_key: ApiKey = None,
                 as_json: Json = False) -> None:  # fmt: skip
    """Enroll a voice from recordings (WAV, FLAC, MP3, OGG/Opus, or a video's audio track)."""
    _enroll("voice", talent_id, clips, _notice(purpose, retention_days, accepted_at, version), target, api_key, as_json)


def erase(talent_id: str, reason: str = "", target: Target = None, api_key: ApiKey = None, as_json: Json = False) -> None:
    """Erase every biometric template of a talent (crypto-shredding)."""
    stub, md = _stub(target, api_key)
    resp = stub.EraseTalentBiometrics(epb.EraseTalentBiometricsRequest(request_id=request_id(), talent_id=talent_id, reason=reason), metadata=md)
    emit({"talent_id": talent_id, "erased_templates": resp.erased_templates, "erased_at": resp.erase_time.ToJsonString()},
         as_json, f"erased {resp.erased_templates} template(s) of {talent_id}")  # fmt: skip


def dispute_dict(d: epb.Dispute) -> dict:
    return {"dispute_id": d.dispute_id, "talent_ids": [d.talent_id, d.existing_talent_id], "held_talent_id": d.talent_id,
            "existing_talent_id": d.existing_talent_id, "enrollment_id": d.enrollment_id,
            "modality": _name(epb.Modality, d.modality, "MODALITY_"), "state": _name(epb.DisputeState, d.state, "DISPUTE_STATE_"),
            "resolution": _name(epb.DisputeResolution, d.resolution, "DISPUTE_RESOLUTION_") if d.resolution else "",
            "note": d.note, "score": round(d.score, 4), "opened_at": d.open_time.ToJsonString(),
            "resolved_at": d.resolve_time.ToJsonString() if d.HasField("resolve_time") else ""}  # fmt: skip


def _dispute_line(d: dict) -> str:
    resolved = f" {d['resolution']}" if d["resolution"] else ""
    return f"{d['dispute_id']}  {d['modality']}  {d['held_talent_id']} (held) vs {d['existing_talent_id']}  {d['state']}{resolved}  score {d['score']}"


@dispute_app.command("list")
@command
def dispute_list(talent: Annotated[str, typer.Option("--talent", help="Only disputes involving this talent.")] = "",
                 open_only: Annotated[bool, typer.Option("--open", help="Only open disputes.")] = False,
                 target: Target = None, api_key: ApiKey = None, as_json: Json = False) -> None:  # fmt: skip
    """Disputes you may see: an operator every one, an agency those over talent it represents."""
    stub, md = _stub(target, api_key)
    state = epb.DISPUTE_STATE_OPEN if open_only else epb.DISPUTE_STATE_UNSPECIFIED
    req = lambda token: stub.ListDisputes(epb.ListDisputesRequest(talent_id=talent, state=state, page_token=token), metadata=md)  # noqa: E731
    for d in paged(req, "disputes"):
        doc = dispute_dict(d)
        emit(doc, as_json, _dispute_line(doc))


@dispute_app.command("get")
@command
def dispute_get(dispute_id: str, target: Target = None, api_key: ApiKey = None, as_json: Json = False) -> None:
    """One dispute: both talent ids, modality, state, resolution and note."""
    stub, md = _stub(target, api_key)
    doc = dispute_dict(stub.GetDispute(epb.GetDisputeRequest(dispute_id=dispute_id), metadata=md).dispute)
    emit(doc, as_json, _dispute_line(doc) + (f"\n  note: {doc['note']}" if doc["note"] else ""))


RESOLUTIONS = {"same-person-keep-existing": epb.DISPUTE_RESOLUTION_SAME_PERSON_KEEP_EXISTING,
               "same-person-keep-new": epb.DISPUTE_RESOLUTION_SAME_PERSON_KEEP_NEW,
               "distinct-people": epb.DISPUTE_RESOLUTION_DISTINCT_PEOPLE}  # fmt: skip


@dispute_app.command("resolve")
@command
def dispute_resolve(dispute_id: str,
                    resolution: Annotated[str, typer.Option("--resolution", help=" | ".join(RESOLUTIONS))],
                    note: Annotated[str, typer.Option("--note", help="Why (kept with the dispute).")] = "",
                    target: Target = None, api_key: ApiKey = None, as_json: Json = False) -> None:  # fmt: skip
    """Resolve a likeness dispute (operator): keep the existing record, keep the new one, or two people."""
    if resolution not in RESOLUTIONS:
        raise CliError(f"--resolution must be one of {', '.join(RESOLUTIONS)}")
    stub, md = _stub(target, api_key)
    resp = stub.ResolveDispute(epb.ResolveDisputeRequest(request_id=request_id(), dispute_id=dispute_id,
                                                         resolution=RESOLUTIONS[resolution], note=note), metadata=md)  # fmt: skip
    doc = dispute_dict(resp.dispute)
    emit(doc, as_json, f"resolved {dispute_id}: {doc['resolution']}")
