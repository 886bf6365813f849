"""Building and reading `likeness.events.v1.Event` envelopes."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from google.protobuf import json_format, timestamp_pb2
from google.protobuf.message import Message

from likeness.events.v1 import events_pb2


def timestamp(moment: datetime) -> timestamp_pb2.Timestamp:
    ts = timestamp_pb2.Timestamp()
    ts.FromDatetime(moment.astimezone(UTC))
    return ts


def new_event(
    payload: Message,
    *,
    talent_id: str = "",
    aggregate_id: str,
    actor_id: str = "",
    occurred_at: datetime | None = None,
) -> events_pb2.Event:
    """Wrap a payload message (TalentRegistered, ...) in an envelope with a fresh event_id."""
    event = events_pb2.Event(
        event_id=str(uuid.uuid4()),
        occurred_at=timestamp(occurred_at or datetime.now(UTC)),
        talent_id=talent_id,
        aggregate_id=aggregate_id,
        actor_id=actor_id,
    )
    field = _payload_field(type(payload))
    getattr(event, field).CopyFrom(payload)
    return event


def event_type(event: events_pb2.Event) -> str:
    field = event.WhichOneof("payload")
    if field is None:
        raise ValueError("event has no payload")
    return type(getattr(event, field)).DESCRIPTOR.name


def message_key(event: events_pb2.Event) -> str:
    """Kafka key: the talent (per-talent order), else the aggregate."""
    return event.talent_id or event.aggregate_id


def event_to_dict(event: events_pb2.Event) -> dict[str, Any]:
    """Flat JSON-ready view: envelope fields, `type`, then the payload's fields."""
    field = event.WhichOneof("payload")
    payload = json_format.MessageToDict(getattr(event, field), preserving_proto_field_name=True) if field else {}
    return {
        "event_id": event.event_id,
        "type": event_type(event) if field else None,
        "talent_id": event.talent_id or None,
        "aggregate_id": event.aggregate_id,
        "actor_id": event.actor_id or None,
        "occurred_at": event.occurred_at.ToDatetime(tzinfo=UTC).isoformat(),
        **payload,
    }


_FIELDS: dict[str, str] = {
    f.message_type.full_name: f.name for f in events_pb2.Event.DESCRIPTOR.oneofs_by_name["payload"].fields
}


def _payload_field(message_type: type[Message]) -> str:
    try:
        return _FIELDS[message_type.DESCRIPTOR.full_name]
    except KeyError:
        raise TypeError(f"{message_type.DESCRIPTOR.full_name} is not an Event payload") from None
