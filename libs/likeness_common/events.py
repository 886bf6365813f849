"""Building and reading `likeness.events.v1.Event` envelopes, the Kafka headers every record carries
(`record_headers`: CloudEvents Kafka binding, binary mode) and the events' schema as a
FileDescriptorSet (`descriptor_set`, what `likeness events schema` writes)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from google.protobuf import descriptor_pb2, json_format, timestamp_pb2
from google.protobuf.message import DecodeError, Message

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


# --- Kafka headers: CloudEvents 1.0, Kafka protocol binding, binary content mode ---------------------

CE_SPECVERSION = "1.0"
CONTENT_TYPE = "application/protobuf"  # the record value: one serialized likeness.events.v1.Event
EVENT_MESSAGE = events_pb2.Event.DESCRIPTOR.full_name


def ce_source(topic: str) -> str:
    """CloudEvents `source` of a topic's events: `likeness.consent.events` -> `/likeness/consent`."""
    parts = topic.split(".")
    if len(parts) == 3 and parts[0] == "likeness" and parts[2] == "events":
        return f"/likeness/{parts[1]}"
    return f"/likeness/{topic}"


def record_headers(topic: str, event_id: str, event_type: str, payload: bytes) -> list[tuple[str, bytes]]:
    """The headers of one event record (the relay's only source of them). `event_id` and
    `event_type` (the payload's short name) as since the first release; then the CloudEvents
    attributes: `ce_specversion` 1.0, `ce_id` = event_id, `ce_type` = the payload's full name
    (`likeness.events.v1.ConsentRevoked`), `ce_source` = `/likeness/<context>`, `ce_time` =
    occurred_at in RFC 3339 UTC, `ce_subject` = the talent id (absent when no talent is involved),
    and `content-type: application/protobuf` (the value is a `likeness.events.v1.Event`; its
    schema: `likeness events schema`). The required attributes come from the outbox row, so a
    payload that does not parse still gets them (without time and subject)."""
    headers = [
        ("event_id", event_id),
        ("event_type", event_type),
        ("ce_specversion", CE_SPECVERSION),
        ("ce_id", event_id),
        ("ce_type", f"{events_pb2.DESCRIPTOR.package}.{event_type}"),
        ("ce_source", ce_source(topic)),
    ]
    try:
        event = events_pb2.Event.FromString(payload)
    except DecodeError:
        event = None
    if event is not None and event.HasField("occurred_at"):
        headers.append(("ce_time", event.occurred_at.ToJsonString()))
    if event is not None and event.talent_id:
        headers.append(("ce_subject", event.talent_id))
    headers.append(("content-type", CONTENT_TYPE))
    return [(name, value.encode()) for name, value in headers]


def descriptor_set() -> descriptor_pb2.FileDescriptorSet:
    """likeness/events/v1/events.proto and every file it imports, dependencies first (what
    `protoc --include_imports --descriptor_set_out` writes): enough to decode an Event in any
    language without this repository. The files are the compiled descriptors the stubs embed."""
    out = descriptor_pb2.FileDescriptorSet()
    seen: set[str] = set()

    def add(file) -> None:
        if file.name in seen:
            return
        seen.add(file.name)
        for dependency in file.dependencies:
            add(dependency)
        out.file.append(descriptor_pb2.FileDescriptorProto.FromString(file.serialized_pb))

    add(events_pb2.DESCRIPTOR)
    return out
