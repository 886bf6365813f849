"""`likeness enroll face|voice ...` and `likeness talent erase ...`."""

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
from .common import ApiKey, Json, Target, command
from .output import emit, err_console, progress

enroll_app = typer.Typer(no_args_is_help=True, help="Enroll a talent's face or voice.")

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
            try:
                samples.append(epb.MediaSample(filename=path.name, content=path.read_bytes()))
            except OSError as error:
                raise CliError(f"cannot read {path}: {error.strerror}") from None
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
              "model": f"{resp.enrollment.model_name} {resp.enrollment.model_version}"}  # fmt: skip
    human = f"enrolled {modality} {resp.enrollment.enrollment_id}: {resp.enrollment.accepted_samples} accepted" + "".join(
        f"\n  rejected {r['file']}: {r['reason']} {r['detail']}" for r in rejected)  # fmt: skip
    emit(result, as_json, human)


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
