"""Registry domain events -> `likeness.events.v1.Event` envelopes."""

from __future__ import annotations

from functools import singledispatch

from likeness.events.v1 import events_pb2
from likeness_common.events import new_event, timestamp

from ..domain import events


@singledispatch
def to_proto(event: events.Event) -> events_pb2.Event:
    raise TypeError(f"no mapping for {type(event).__name__}")


@to_proto.register
def _(e: events.AgencyRegistered) -> events_pb2.Event:
    payload = events_pb2.AgencyRegistered(agency_id=e.agency_id, display_name=e.display_name)
    return new_event(payload, aggregate_id=e.agency_id, actor_id=e.actor_id)


@to_proto.register
def _(e: events.PlatformRegistered) -> events_pb2.Event:
    payload = events_pb2.PlatformRegistered(platform_id=e.platform_id, display_name=e.display_name)
    return new_event(payload, aggregate_id=e.platform_id, actor_id=e.actor_id)


@to_proto.register
def _(e: events.TalentRegistered) -> events_pb2.Event:
    payload = events_pb2.TalentRegistered(talent_id=e.talent_id, display_name=e.display_name, external_ref=e.external_ref)
    return new_event(payload, talent_id=e.talent_id, aggregate_id=e.talent_id, actor_id=e.actor_id)


@to_proto.register
def _(e: events.MandateGranted) -> events_pb2.Event:
    payload = events_pb2.MandateGranted(
        mandate_id=e.mandate_id,
        agency_id=e.agency_id,
        talent_id=e.talent_id,
        valid_from=timestamp(e.valid_from),
        valid_until=timestamp(e.valid_until) if e.valid_until else None,
    )
    return new_event(payload, talent_id=e.talent_id, aggregate_id=e.mandate_id, actor_id=e.actor_id)


@to_proto.register
def _(e: events.MandateEnded) -> events_pb2.Event:
    payload = events_pb2.MandateEnded(
        mandate_id=e.mandate_id, agency_id=e.agency_id, talent_id=e.talent_id, reason=e.reason
    )
    return new_event(payload, talent_id=e.talent_id, aggregate_id=e.mandate_id, actor_id=e.actor_id)


@to_proto.register
def _(e: events.ApiKeysRevoked) -> events_pb2.Event:
    payload = events_pb2.ApiKeyRevoked(principal_id=e.principal_id, revoked_count=e.revoked_count)
    return new_event(payload, aggregate_id=e.principal_id, actor_id=e.actor_id)


@to_proto.register
def _(e: events.TalentInvitationCreated) -> events_pb2.Event:
    payload = events_pb2.TalentInvitationCreated(
        invitation_id=e.invitation_id, talent_id=e.talent_id, agency_id=e.agency_id, expire_time=timestamp(e.expires_at)
    )
    return new_event(payload, talent_id=e.talent_id, aggregate_id=e.invitation_id, actor_id=e.actor_id)


@to_proto.register
def _(e: events.TalentCredentialIssued) -> events_pb2.Event:
    payload = events_pb2.TalentCredentialIssued(
        talent_id=e.talent_id, identity_verified=e.identity_verified, invitation_id=e.invitation_id, invited_by_agency_id=e.invited_by
    )
    return new_event(payload, talent_id=e.talent_id, aggregate_id=e.talent_id, actor_id=e.actor_id)
