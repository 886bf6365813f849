"""Registry domain objects as RegistryService messages."""

from __future__ import annotations

from datetime import UTC, datetime

from likeness.registry.v1 import registry_pb2 as pb
from likeness_common.proto import ts

from ..domain.model import Agency, Mandate, MandateState, Platform, Talent, TalentInvitation

_STATE = {
    MandateState.ACTIVE: pb.MANDATE_STATE_ACTIVE,
    MandateState.PENDING: pb.MANDATE_STATE_PENDING,
    MandateState.ENDED: pb.MANDATE_STATE_ENDED,
}
PRINCIPAL_KIND = {"operator": pb.PRINCIPAL_KIND_OPERATOR, "agency": pb.PRINCIPAL_KIND_AGENCY, "platform": pb.PRINCIPAL_KIND_PLATFORM,
         "talent": pb.PRINCIPAL_KIND_TALENT}


def agency_pb(a: Agency) -> pb.Agency:
    return pb.Agency(agency_id=a.agency_id, display_name=a.display_name, create_time=ts(a.created_at))


def platform_pb(p: Platform) -> pb.Platform:
    return pb.Platform(platform_id=p.platform_id, display_name=p.display_name, create_time=ts(p.created_at))


def talent_pb(t: Talent) -> pb.Talent:
    return pb.Talent(
        talent_id=t.talent_id, display_name=t.display_name, external_ref=t.external_ref, create_time=ts(t.created_at),
        identity_verified=t.identity_verified, identity_verify_time=ts(t.identity_verified_at),
    )


def invitation_pb(i: TalentInvitation) -> pb.TalentInvitation:
    return pb.TalentInvitation(invitation_id=i.invitation_id, talent_id=i.talent_id, agency_id=i.agency_id,
                               create_time=ts(i.created_at), expire_time=ts(i.expires_at))  # fmt: skip


def mandate_pb(m: Mandate) -> pb.Mandate:
    return pb.Mandate(
        mandate_id=m.mandate_id,
        agency_id=m.agency_id,
        talent_id=m.talent_id,
        valid_from=ts(m.valid_from),
        valid_until=ts(m.valid_until),
        end_time=ts(m.ended_at),
        state=_STATE[m.state(datetime.now(UTC))],
    )
