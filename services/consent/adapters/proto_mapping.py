"""Grant <-> protobuf."""

from __future__ import annotations

from datetime import datetime

from likeness.consent.v1 import consent_pb2 as pb
from likeness.enrollment.v1 import enrollment_pb2 as enrollment_pb
from likeness_common.proto import enum_name, ts

from ..domain.model import Denial, Grant, GrantState

_STATE = {
    GrantState.ACTIVE: pb.GRANT_STATE_ACTIVE,
    GrantState.PENDING: pb.GRANT_STATE_PENDING,
    GrantState.REVOKED: pb.GRANT_STATE_REVOKED,
    GrantState.EXPIRED: pb.GRANT_STATE_EXPIRED,
}


def modality_name(value: int) -> str:
    return enum_name(enrollment_pb.Modality, value, "MODALITY_")


def purpose_name(value: int) -> str:
    return enum_name(pb.Purpose, value, "PURPOSE_")


def denial_pb(reason: Denial | None) -> int:
    return pb.DenialReason.Value(f"DENIAL_REASON_{reason.value}") if reason else pb.DENIAL_REASON_UNSPECIFIED


def grant_pb(g: Grant, now: datetime) -> pb.Grant:
    out = pb.Grant(
        grant_id=g.grant_id,
        talent_id=g.talent_id,
        platform_id=g.platform_id or "",
        any_platform=g.platform_id is None,
        modalities=[enrollment_pb.Modality.Value(f"MODALITY_{m.value}") for m in sorted(g.modalities)],
        purposes=[pb.Purpose.Value(f"PURPOSE_{p.value}") for p in sorted(g.purposes)],
        custom_purposes=sorted(g.custom_purposes),
        territories=sorted(g.territories or ()),
        worldwide=g.territories is None,
        not_before=ts(g.not_before),
        not_after=ts(g.not_after),
        conditions=[pb.Condition(kind=c.kind, value=c.value) for c in g.conditions],
        issuer=pb.Issuer(kind=g.issuer.kind, principal_id=g.issuer.principal_id),
        terms_ref=g.terms_ref,
        create_time=ts(g.created_at),
        state=_STATE[g.state(now, current=True)],
        revoke_time=ts(g.revoked_at),
        revoke_reason=g.revoke_reason,
    )
    if g.signature:
        out.signature.CopyFrom(
            pb.GrantSignature(
                key_id=g.signature.key_id,
                algorithm=g.signature.algorithm,
                canonical_payload=g.signature.canonical_payload,
                signature=g.signature.signature,
            )
        )
    return out
