"""The events' contract for consumers outside this repository: `likeness events schema` writes a
FileDescriptorSet that decodes every Event with nothing but a protobuf runtime (no generated
module), and every record carries CloudEvents Kafka-binding headers built by events.record_headers."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime

from google.protobuf import json_format
from typer.testing import CliRunner

from likeness.events.v1 import events_pb2
from likeness_cli.main import app
from likeness_common.events import new_event, record_headers

# Runs in a fresh interpreter: builds the message class from the descriptor set alone and proves
# that no likeness module was imported on the way.
DECODE = """
import json, sys
from google.protobuf import descriptor_pb2, descriptor_pool, json_format, message_factory
files = descriptor_pb2.FileDescriptorSet.FromString(open(sys.argv[1], "rb").read())
pool = descriptor_pool.DescriptorPool()
for file in files.file:
    pool.Add(file)
Event = message_factory.GetMessageClass(pool.FindMessageTypeByName("likeness.events.v1.Event"))
decoded = [json_format.MessageToDict(Event.FromString(bytes.fromhex(line)), preserving_proto_field_name=True)
           for line in sys.stdin.read().split()]
assert not [name for name in sys.modules if name.startswith("likeness")], "a likeness module was imported"
print(json.dumps(decoded))
"""


def sample_events() -> list[events_pb2.Event]:
    at = datetime(2026, 11, 30, 12, 0, 0, 123456, tzinfo=UTC)
    return [
        new_event(events_pb2.AgencyRegistered(agency_id="agy_1", display_name="Agency"), aggregate_id="agy_1", occurred_at=at),
        new_event(events_pb2.ConsentRevoked(grant_id="grt_1", reason="withdrawn"), talent_id="tal_1", aggregate_id="grt_1",
                  actor_id="agy_1", occurred_at=at),  # fmt: skip
        new_event(events_pb2.VerificationDecided(verification_id="ver_1"), talent_id="tal_2", aggregate_id="ver_1", occurred_at=at),
    ]


def write_schema(tmp_path) -> tuple[dict, bytes]:
    path = tmp_path / "events.binpb"
    result = CliRunner().invoke(app, ["events", "schema", "--out", str(path), "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout), path.read_bytes()


def test_schema_command_writes_the_events_file_and_every_import(tmp_path) -> None:
    summary, data = write_schema(tmp_path)
    assert summary["message"] == "likeness.events.v1.Event" and summary["content_type"] == "application/protobuf"
    assert summary["bytes"] == len(data)
    assert summary["files"][-1] == "likeness/events/v1/events.proto"
    for needed in ("google/protobuf/timestamp.proto", "likeness/consent/v1/consent.proto", "google/longrunning/operations.proto"):
        assert needed in summary["files"]
    names = summary["files"]
    assert len(set(names)) == len(names)


def test_an_event_decodes_with_the_descriptor_set_alone(tmp_path) -> None:
    _, data = write_schema(tmp_path)
    schema = tmp_path / "events.binpb"
    events = sample_events()
    decoded = subprocess.run(
        [sys.executable, "-c", DECODE, str(schema)], input="\n".join(e.SerializeToString().hex() for e in events),
        capture_output=True, text=True, check=True, cwd=tmp_path,
    )  # fmt: skip
    expected = [json_format.MessageToDict(e, preserving_proto_field_name=True) for e in events]
    assert json.loads(decoded.stdout) == expected
    assert expected[1]["consent_revoked"] == {"grant_id": "grt_1", "reason": "withdrawn"}


def test_protoc_decodes_a_record_with_the_descriptor_set(tmp_path) -> None:
    """The route a consumer in another language takes: protoc (any build) and the set, no .proto files."""
    write_schema(tmp_path)
    event = sample_events()[1]
    decoded = subprocess.run(
        [sys.executable, "-m", "grpc_tools.protoc", f"--descriptor_set_in={tmp_path / 'events.binpb'}",
         "--decode=likeness.events.v1.Event", "likeness/events/v1/events.proto"],
        input=event.SerializeToString(), capture_output=True, check=True, cwd=tmp_path,
    ).stdout.decode()  # fmt: skip
    assert f'event_id: "{event.event_id}"' in decoded
    assert 'consent_revoked {\n  grant_id: "grt_1"' in decoded


def test_record_headers_follow_the_cloudevents_kafka_binding() -> None:
    registered, revoked, _ = sample_events()
    headers = dict(record_headers("likeness.consent.events", revoked.event_id, "ConsentRevoked", revoked.SerializeToString()))
    assert {k: v.decode() for k, v in headers.items()} == {
        "event_id": revoked.event_id,
        "event_type": "ConsentRevoked",
        "ce_specversion": "1.0",
        "ce_id": revoked.event_id,
        "ce_type": "likeness.events.v1.ConsentRevoked",
        "ce_source": "/likeness/consent",
        "ce_time": "2026-11-30T12:00:00.123456Z",
        "ce_subject": "tal_1",
        "content-type": "application/protobuf",
    }
    # No talent involved: no subject (the Kafka key is then the aggregate id).
    no_talent = dict(record_headers("likeness.registry.events", registered.event_id, "AgencyRegistered", registered.SerializeToString()))
    assert "ce_subject" not in no_talent and no_talent["ce_source"] == b"/likeness/registry"
    # A payload that does not parse still gets every required CloudEvents attribute.
    broken = dict(record_headers("likeness.registry.events", "e-1", "AgencyRegistered", b"\x0a\xff"))
    assert {k for k in broken} == {"event_id", "event_type", "ce_specversion", "ce_id", "ce_type", "ce_source", "content-type"}
