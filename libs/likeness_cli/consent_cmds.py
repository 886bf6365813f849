"""`likeness consent ...`, `likeness keys ...`, `likeness audit ...`."""

from __future__ import annotations

import base64
import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from likeness.consent.v1 import consent_pb2 as cpb
from likeness.consent.v1 import consent_pb2_grpc
from likeness.enrollment.v1 import enrollment_pb2 as epb
from likeness_common.documents import GRANT_TYPE, unwrap_c2pa
from likeness_common.proto import ts
from likeness_common.signing import Signature, SignatureError, envelope, verify_envelope

from .client import CliError, connect, request_id
from .common import ApiKey, Json, Keys, Target, command, paged, read_file
from .output import emit, to_dict

consent_app = typer.Typer(no_args_is_help=True, help="Signed consent grants.")
keys_app = typer.Typer(no_args_is_help=True, help="The registry's signing keys.")
audit_app = typer.Typer(no_args_is_help=True, help="The hash-chained audit log.")

def _stub(target: str | None, api_key: str | None) -> tuple[consent_pb2_grpc.ConsentServiceStub, list]:
    conn = connect("consent", target, api_key)
    return consent_pb2_grpc.ConsentServiceStub(conn.channel()), conn.metadata


def _csv(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def _modality(name: str) -> int:
    try:
        return epb.Modality.Value(f"MODALITY_{name.upper()}")
    except ValueError:
        raise CliError(f"unknown modality {name!r}: use face or voice") from None


def purpose_value(name: str) -> tuple[int, str]:
    """A named purpose, or any other word as a custom purpose."""
    key = f"PURPOSE_{name.upper().replace('-', '_')}"
    if key in cpb.Purpose.keys() and key not in ("PURPOSE_UNSPECIFIED", "PURPOSE_CUSTOM"):
        return cpb.Purpose.Value(key), ""
    return cpb.PURPOSE_CUSTOM, name


def _when(value: str | None, option: str):
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise CliError(f"{option}: not an ISO 8601 time: {value!r}") from None
    if moment.tzinfo is None:
        raise CliError(f"{option}: give a time zone (for example 2027-01-01T00:00:00Z)")
    return ts(moment)


def grant_summary(grant: cpb.Grant) -> dict:
    data = to_dict(grant)
    data.pop("signature", None)
    data["state"] = cpb.GrantState.Name(grant.state).removeprefix("GRANT_STATE_")
    data["signed_by"] = grant.signature.key_id
    return data


def grant_document(grant: cpb.Grant) -> bytes:
    sig = grant.signature
    return envelope(GRANT_TYPE, sig.canonical_payload, Signature(sig.key_id, sig.algorithm, sig.signature))


@consent_app.command("grant")
@command
def grant(
    talent_id: str,
    platform: Annotated[str, typer.Option(help="Platform id, or `any`.")],
    modality: Annotated[str, typer.Option(help="face, voice or face,voice.")],
    purpose: Annotated[str, typer.Option(help="advertising, dubbing, synthetic_performance, training, editorial, or custom words; comma separated.")],
    territory: Annotated[str, typer.Option(help="ISO 3166-1 alpha-2 codes, comma separated; empty: worldwide.")] = "",
    start: Annotated[str | None, typer.Option("--from", help="Valid from (ISO 8601, inclusive); default now.")] = None,
    until: Annotated[str | None, typer.Option("--until", help="Valid until (ISO 8601, exclusive); default open-ended.")] = None,
    condition: Annotated[list[str] | None, typer.Option(help="kind=value the platform must honour; repeatable.")] = None,
    terms_ref: Annotated[str, typer.Option(help="Contract id.")] = "",
    target: Target = None,
    api_key: ApiKey = None,
    as_json: Json = False,
) -> None:
    """Grant a platform consent to use a talent's likeness."""
    stub, md = _stub(target, api_key)
    purposes, custom = [], []
    for name in _csv(purpose):
        value, custom_name = purpose_value(name)
        purposes.append(value)
        if custom_name:
            custom.append(custom_name)
    conditions = []
    for item in condition or []:
        kind, sep, value = item.partition("=")
        if not sep:
            raise CliError(f"--condition must look like kind=value: {item!r}")
        conditions.append(cpb.Condition(kind=kind, value=value))
    territories = [t.upper() for t in _csv(territory)]
    g = cpb.Grant(
        talent_id=talent_id,
        platform_id="" if platform == "any" else platform,
        any_platform=platform == "any",
        modalities=[_modality(m) for m in _csv(modality)],
        purposes=sorted(set(purposes)),
        custom_purposes=custom,
        territories=territories,
        worldwide=not territories,
        not_before=_when(start, "--from"),
        not_after=_when(until, "--until"),
        conditions=conditions,
        terms_ref=terms_ref,
    )
    resp = stub.CreateGrant(cpb.CreateGrantRequest(request_id=request_id(), grant=g), metadata=md)
    emit({"grant_id": resp.grant.grant_id, "consistency_token": resp.consistency_token, **grant_summary(resp.grant)},
         as_json, f"grant {resp.grant.grant_id} ({resp.consistency_token})")  # fmt: skip


@consent_app.command("revoke")
@command
def revoke(grant_id: str, reason: str = "", target: Target = None, api_key: ApiKey = None, as_json: Json = False) -> None:
    """Revoke a grant; effective for every check that carries the returned token."""
    stub, md = _stub(target, api_key)
    resp = stub.RevokeGrant(cpb.RevokeGrantRequest(request_id=request_id(), grant_id=grant_id, reason=reason), metadata=md)
    emit({"grant_id": resp.grant.grant_id, "consistency_token": resp.consistency_token, **grant_summary(resp.grant)},
         as_json, f"grant {resp.grant.grant_id} revoked ({resp.consistency_token})")  # fmt: skip


@consent_app.command("list")
@command
def list_grants(talent_id: str, target: Target = None, api_key: ApiKey = None, as_json: Json = False) -> None:
    stub, md = _stub(target, api_key)
    for g in paged(lambda token: stub.ListGrants(cpb.ListGrantsRequest(talent_id=talent_id, page_token=token), metadata=md), "grants"):
        s = grant_summary(g)
        emit(s, as_json, f"{g.grant_id}  {s['state']:<8} platform={g.platform_id or 'any'}  {','.join(s.get('purposes', []))}")


@consent_app.command("check")
@command
def check(
    talent: Annotated[str, typer.Option()],
    platform: Annotated[str, typer.Option()],
    modality: Annotated[str, typer.Option()],
    purpose: Annotated[str, typer.Option()],
    territory: Annotated[str, typer.Option()] = "",
    token: Annotated[str, typer.Option(help="Consistency token: answer from at least that state.")] = "",
    target: Target = None,
    api_key: ApiKey = None,
    as_json: Json = False,
) -> None:
    """Is this use covered by a grant right now?"""
    stub, md = _stub(target, api_key)
    purpose_code, custom = purpose_value(purpose)
    req = cpb.CheckConsentRequest(talent_id=talent, platform_id=platform, modality=_modality(modality), purpose=purpose_code,
                                  custom_purpose=custom, territory=territory, at_least_as_fresh=token)  # fmt: skip
    resp = stub.CheckConsent(req, metadata=md)
    reason = None if resp.allowed else cpb.DenialReason.Name(resp.reason).removeprefix("DENIAL_REASON_")
    emit({"allowed": resp.allowed, "grant_ids": list(resp.grant_ids), "reason": reason, "detail": resp.detail,
          "consistency_token": resp.consistency_token, "conditions": [to_dict(c) for c in resp.conditions]},
         as_json, f"{'ALLOWED' if resp.allowed else 'NOT ALLOWED'} {' '.join(resp.grant_ids) or reason} {resp.detail}")  # fmt: skip


@consent_app.command("export")
@command
def export(grant_id: str, target: Target = None, api_key: ApiKey = None) -> None:
    """Print the signed grant document (canonical JSON) for offline verification."""
    stub, md = _stub(target, api_key)
    grant_pb = stub.GetGrant(cpb.GetGrantRequest(grant_id=grant_id), metadata=md).grant
    sys.stdout.buffer.write(grant_document(grant_pb))


@consent_app.command("verify-grant")
@command
def verify_grant(
    file: Path,
    keys: Keys = None,
    target: Target = None,
    as_json: Json = False,
) -> None:
    """Verify an exported grant: any changed byte fails."""
    verify_document(file, read_file(file), keys, target, GRANT_TYPE, as_json)


def verify_document(file: Path, data: bytes, keys: Path | None, target: str | None, kind: str, as_json: bool) -> None:
    """`data`: the file's bytes (its name is for the messages)."""
    public = load_keys(keys) if keys else fetch_keys(target)
    try:
        payload = verify_envelope(unwrap_c2pa(data), public, kind)
    except SignatureError as error:
        raise CliError(f"{file}: NOT VALID: {error}", code="INVALID_SIGNATURE") from None
    subject = payload.get("grant_id") or payload.get("receipt_id") or ""
    emit({"valid": True, "type": kind, "id": subject, "key_id": payload.get("key_id"), "payload": payload},
         as_json, f"{file}: valid {kind} {subject}, signed by {payload.get('key_id')}")  # fmt: skip


def fetch_keys(target: str | None) -> dict[str, bytes]:
    stub, _ = _stub(target, None)
    return {k.key_id: k.public_key for k in stub.GetSigningKeys(cpb.GetSigningKeysRequest()).keys}


def load_keys(path: Path) -> dict[str, bytes]:
    try:
        doc = json.loads(path.read_text())
        return {k["key_id"]: base64.b64decode(k["public_key"]) for k in doc["keys"]}
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise CliError(f"{path}: not a key file from `likeness keys export` ({error})") from None


@keys_app.command("export")
@command
def keys_export(
    target: Target = None,
    verification_target: Annotated[str | None, typer.Option("--verification-target", help="The verification service, for its C2PA trust (default: as for `likeness verify`).")] = None,
    as_json: Json = True,
) -> None:
    """Print what an offline verifier needs, as JSON: every public signing key (current and retired)
    for grants and receipts, and the C2PA trust anchor and signing chain of clips the registry signs
    (`c2pa`: null where the deployment signs none)."""
    stub, _ = _stub(target, None)
    keys = stub.GetSigningKeys(cpb.GetSigningKeysRequest()).keys
    doc = {"keys": [{"key_id": k.key_id, "algorithm": k.algorithm, "public_key": base64.b64encode(k.public_key).decode(),
                     "created_at": k.create_time.ToJsonString(),
                     "retired_at": k.retire_time.ToJsonString() if k.HasField("retire_time") else None} for k in keys]}  # fmt: skip
    trust = fetch_c2pa_trust(verification_target)
    doc["c2pa"] = {"trust_anchors_pem": trust.trust_anchors_pem, "signer_chain_pem": trust.signer_chain_pem} if trust.signer_chain_pem else None
    sys.stdout.write(json.dumps(doc) + "\n")


def fetch_c2pa_trust(target: str | None):
    """The verification service's public C2PA trust (GetC2paTrust, no API key)."""
    from likeness.verification.v1 import verification_pb2 as vpb
    from likeness.verification.v1 import verification_pb2_grpc

    conn = connect("verification", target, None)
    return verification_pb2_grpc.VerificationServiceStub(conn.channel()).GetC2paTrust(vpb.GetC2paTrustRequest(), timeout=30)


def load_c2pa_anchor(path: Path) -> bytes | None:
    """The C2PA trust anchor in a `likeness keys export` file (None: the file names none)."""
    try:
        c2pa = json.loads(path.read_text()).get("c2pa") or {}
    except (OSError, ValueError, AttributeError) as error:
        raise CliError(f"{path}: not a key file from `likeness keys export` ({error})") from None
    return c2pa.get("trust_anchors_pem", "").encode() or None


@keys_app.command("rotate")
@command
def keys_rotate(target: Target = None, api_key: ApiKey = None, as_json: Json = False) -> None:
    """Operator: make a new signing key current (old keys stay valid for verification)."""
    stub, md = _stub(target, api_key)
    key = stub.RotateSigningKey(cpb.RotateSigningKeyRequest(request_id=request_id()), metadata=md).key
    emit({"key_id": key.key_id, "public_key": base64.b64encode(key.public_key).decode()}, as_json, f"new signing key {key.key_id}")


@audit_app.command("verify")
@command
def audit_verify(target: Target = None, api_key: ApiKey = None, as_json: Json = False) -> None:
    """Check the audit hash chain; name the first broken entry."""
    stub, md = _stub(target, api_key)
    r = stub.VerifyAuditLog(cpb.VerifyAuditLogRequest(), metadata=md)
    result = {"intact": r.intact, "entries_checked": r.entries_checked, "first_broken_seq": r.first_broken_seq or None, "detail": r.detail}
    emit(result, as_json, f"audit log intact ({r.entries_checked} entries)" if r.intact
         else f"audit log BROKEN at entry {r.first_broken_seq}: {r.detail}")  # fmt: skip
    if not r.intact:
        raise typer.Exit(1)
