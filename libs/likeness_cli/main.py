"""`likeness`: run the stack, register parties, tail events. `--json` on every command prints one
JSON object per result; errors exit with status 1 (and a JSON `{"error": ...}` with --json)."""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path
from typing import Annotated

import typer

from likeness.registry.v1 import registry_pb2 as reg
from likeness.registry.v1 import registry_pb2_grpc

from .client import TLS_FLAGS, CliError, connect, request_id
from .cohort_cmds import cohort_app
from .common import ApiKey, Json, Target, command, fail, paged
from .consent_cmds import audit_app, consent_app, keys_app
from .enroll_cmds import dispute_app, enroll_app
from .enroll_cmds import erase as erase_biometrics
from .output import emit, to_dict
from .verify_cmds import operation_app, receipt_app
from .verify_cmds import verify as verify_clip

app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__)
dev_app = typer.Typer(no_args_is_help=True, help="The embedded development stack.")
agency_app = typer.Typer(no_args_is_help=True, help="Agencies (operator).")
platform_app = typer.Typer(no_args_is_help=True, help="Platforms (operator).")
talent_app = typer.Typer(no_args_is_help=True, help="Talent.")
mandate_app = typer.Typer(no_args_is_help=True, help="Representation mandates.")
events_app = typer.Typer(no_args_is_help=True, help="Events on Kafka.")
for sub, name in [(dev_app, "dev"), (agency_app, "agency"), (platform_app, "platform"), (talent_app, "talent"),
                  (mandate_app, "mandate"), (events_app, "events"), (consent_app, "consent"), (keys_app, "keys"),
                  (audit_app, "audit"), (enroll_app, "enroll"), (receipt_app, "receipt"),
                  (operation_app, "operation"), (dispute_app, "dispute"), (cohort_app, "cohort")]:  # fmt: skip
    app.add_typer(sub, name=name)
app.command("verify")(verify_clip)


@app.callback()
def _connection_options(
    ca: Annotated[Path | None, typer.Option("--ca", help="CA certificate (PEM) to trust: talk to the services over TLS.")] = None,
    cert: Annotated[Path | None, typer.Option("--cert", help="Client certificate (PEM), for services that require mutual TLS.")] = None,
    key: Annotated[Path | None, typer.Option("--key", help="Private key (PEM) of --cert.")] = None,
) -> None:
    TLS_FLAGS.update(ca=ca, cert=cert, key=key)


def _registry(target: str | None, api_key: str | None) -> tuple[registry_pb2_grpc.RegistryServiceStub, list]:
    conn = connect("registry", target, api_key)
    return registry_pb2_grpc.RegistryServiceStub(conn.channel()), conn.metadata


# --- dev --------------------------------------------------------------------------------------


@dev_app.command("up")
def dev_up(
    state_dir: Annotated[Path, typer.Option(help="Where the cluster, logs and dev.json live.")] = Path(".likeness"),
    tls: Annotated[bool, typer.Option("--tls", help="Services serve TLS with a throwaway CA (in STATE_DIR/tls; the CLI uses it).")] = False,
    mtls: Annotated[bool, typer.Option("--mtls", help="Like --tls, and services require a client certificate (mutual TLS).")] = False,
    as_json: Json = False,
) -> None:
    """Start Postgres, the broker, every service and the relay; stop them all on Ctrl-C / SIGTERM."""
    from likeness_common.logging import configure_logging
    from likeness_devstack import DevStack

    configure_logging("INFO", as_json or None)
    stack = DevStack(state_dir.resolve(), tls=tls, mutual_tls=mtls)
    stopping = False

    def _stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    try:
        info = stack.start()
        public = {k: v for k, v in info.items() if k != "operator_api_key"}
        emit({"status": "up", **public, "dev_json": str(stack.dev_json)}, as_json,
             f"stack up; endpoints and the operator API key are in {stack.dev_json}\n"
             + "\n".join(f"  {k:<10} {v}" for k, v in info["services"].items())
             + f"\n  {'postgres':<10} {info['database_url'].split('@')[-1]}\n  {'kafka':<10} {info['kafka_bootstrap']}"
             + "".join(f"\n  {k:<10} {v}" for k, v in info["web"].items())
             + (f"\n  {'tls':<10} {'mutual TLS' if info['tls']['mutual'] else 'TLS'}, CA {info['tls']['ca']}" if info["tls"] else "")
             + f"\n  {'cohort':<10} {info['voice_cohort'] or 'none: voice scores on raw cosine thresholds'}"
             + f"\n  {'logs':<10} {info['logs']}\nmetrics (Prometheus):\n"
             + "\n".join(f"  {k:<10} {v}" for k, v in info["metrics"].items())
             + "\nCtrl-C stops everything.")  # fmt: skip
        while not stopping:
            for name, child in stack.children.items():
                if child.process is not None and child.process.poll() is not None:
                    raise CliError(f"{name} exited with status {child.process.returncode}; see {child.log_path}")
            time.sleep(0.2)
    except CliError as error:
        fail(error, as_json)
    finally:
        stack.stop()


# --- registry ---------------------------------------------------------------------------------


@agency_app.command("register")
@command
def agency_register(name: str, target: Target = None, api_key: ApiKey = None, as_json: Json = False) -> None:
    """Register an agency; prints its API key once."""
    _register("agency", name, target, api_key, as_json)


def _register(kind: str, name: str, target: str | None, api_key: str | None, as_json: bool) -> None:
    """An agency and a platform are registered alike (RegisterAgency / RegisterPlatform)."""
    stub, md = _registry(target, api_key)
    call, request = (stub.RegisterAgency, reg.RegisterAgencyRequest) if kind == "agency" else (stub.RegisterPlatform, reg.RegisterPlatformRequest)
    resp = call(request(request_id=request_id(), display_name=name), metadata=md)
    party, id_field = getattr(resp, kind), f"{kind}_id"
    emit({id_field: getattr(party, id_field), "display_name": party.display_name, "api_key": resp.api_key},
         as_json, f"{kind} {getattr(party, id_field)}\napi key (shown once): {resp.api_key}")  # fmt: skip


@agency_app.command("list")
@command
def agency_list(target: Target = None, api_key: ApiKey = None, as_json: Json = False) -> None:
    stub, md = _registry(target, api_key)
    for agency in paged(lambda token: stub.ListAgencies(reg.ListAgenciesRequest(page_token=token), metadata=md), "agencies"):
        emit(to_dict(agency), as_json, f"{agency.agency_id}  {agency.display_name}")


@platform_app.command("register")
@command
def platform_register(name: str, target: Target = None, api_key: ApiKey = None, as_json: Json = False) -> None:
    """Register a platform; prints its API key once."""
    _register("platform", name, target, api_key, as_json)


@platform_app.command("list")
@command
def platform_list(target: Target = None, api_key: ApiKey = None, as_json: Json = False) -> None:
    stub, md = _registry(target, api_key)
    for p in paged(lambda token: stub.ListPlatforms(reg.ListPlatformsRequest(page_token=token), metadata=md), "platforms"):
        emit(to_dict(p), as_json, f"{p.platform_id}  {p.display_name}")


@talent_app.command("register")
@command
def talent_register(
    name: str,
    external_ref: Annotated[str, typer.Option(help="Your own reference for the talent.")] = "",
    agency_id: Annotated[str, typer.Option(help="Operator only: the agency that gets the mandate.")] = "",
    target: Target = None,
    api_key: ApiKey = None,
    as_json: Json = False,
) -> None:
    """Register a talent (with a mandate for the calling agency)."""
    stub, md = _registry(target, api_key)
    req = reg.RegisterTalentRequest(request_id=request_id(), display_name=name, external_ref=external_ref, agency_id=agency_id)
    resp = stub.RegisterTalent(req, metadata=md)
    emit({"talent_id": resp.talent.talent_id, "display_name": resp.talent.display_name,
          "mandate_id": resp.mandate.mandate_id or None}, as_json, f"talent {resp.talent.talent_id}")  # fmt: skip


@talent_app.command("get")
@command
def talent_get(talent_id: str, target: Target = None, api_key: ApiKey = None, as_json: Json = False) -> None:
    stub, md = _registry(target, api_key)
    talent = stub.GetTalent(reg.GetTalentRequest(talent_id=talent_id), metadata=md).talent
    emit(to_dict(talent), as_json, f"{talent.talent_id}  {talent.display_name}")


talent_app.command("erase")(command(erase_biometrics))


@talent_app.command("list")
@command
def talent_list(target: Target = None, api_key: ApiKey = None, as_json: Json = False) -> None:
    stub, md = _registry(target, api_key)
    for t in paged(lambda token: stub.ListTalent(reg.ListTalentRequest(page_token=token), metadata=md), "talent"):
        emit(to_dict(t), as_json, f"{t.talent_id}  {t.display_name}")


@talent_app.command("invite")
@command
def talent_invite(talent_id: str, target: Target = None, api_key: ApiKey = None, as_json: Json = False) -> None:
    """Agency: a one-time code for the talent to hold a credential of their own (not identity-verified;
    it revokes only grants your agency issued). Shown once; expires (default 7 days)."""
    stub, md = _registry(target, api_key)
    resp = stub.CreateTalentInvitation(reg.CreateTalentInvitationRequest(request_id=request_id(), talent_id=talent_id), metadata=md)
    inv = resp.invitation
    emit({"invitation_code": resp.invitation_code, "invitation_id": inv.invitation_id, "talent_id": inv.talent_id,
          "expire_time": inv.expire_time.ToJsonString()}, as_json,
         f"invitation code for {inv.talent_id} (shown once, single-use, expires {inv.expire_time.ToJsonString()}):\n"
         f"{resp.invitation_code}\nthe talent runs: likeness talent redeem CODE")  # fmt: skip


@talent_app.command("redeem")
@command
def talent_redeem(invitation_code: str, target: Target = None, as_json: Json = False) -> None:
    """The talent: turn an invitation code into your own API key (no API key needed). Shown once."""
    conn = connect("registry", target, None)
    stub = registry_pb2_grpc.RegistryServiceStub(conn.channel())
    resp = stub.RedeemTalentInvitation(reg.RedeemTalentInvitationRequest(invitation_code=invitation_code))  # the code is the secret
    emit({"talent_id": resp.talent.talent_id, "api_key": resp.api_key, "identity_verified": resp.talent.identity_verified},
         as_json, f"talent {resp.talent.talent_id}\nyour api key (shown once): {resp.api_key}")  # fmt: skip


@talent_app.command("credential")
@command
def talent_credential(
    talent_id: str,
    identity_verified: Annotated[bool, typer.Option("--identity-verified", help="Required: you checked the person's identity out of band.")] = False,
    note: Annotated[str, typer.Option(help="How the identity was checked (kept in the audit log).")] = "",
    target: Target = None,
    api_key: ApiKey = None,
    as_json: Json = False,
) -> None:
    """Operator: issue the talent an identity-verified credential (marks the talent record verified)."""
    if not identity_verified:
        raise CliError("pass --identity-verified once you have checked the person's identity out of band "
                       "(an unverified credential comes from the agency: likeness talent invite)")  # fmt: skip
    stub, md = _registry(target, api_key)
    req = reg.IssueTalentCredentialRequest(request_id=request_id(), talent_id=talent_id, identity_verified=True, note=note)
    resp = stub.IssueTalentCredential(req, metadata=md)
    emit({"talent_id": resp.talent.talent_id, "api_key": resp.api_key, "identity_verified": resp.talent.identity_verified},
         as_json, f"talent {resp.talent.talent_id} (identity verified)\ntheir api key (shown once): {resp.api_key}")  # fmt: skip


@mandate_app.command("grant")
@command
def mandate_grant(agency_id: str, talent_id: str, target: Target = None, api_key: ApiKey = None, as_json: Json = False) -> None:
    """Operator: let an agency represent a talent."""
    stub, md = _registry(target, api_key)
    req = reg.GrantMandateRequest(request_id=request_id(), agency_id=agency_id, talent_id=talent_id)
    m = stub.GrantMandate(req, metadata=md).mandate
    emit(to_dict(m), as_json, f"mandate {m.mandate_id}")


@mandate_app.command("end")
@command
def mandate_end(mandate_id: str, reason: str = "", target: Target = None, api_key: ApiKey = None, as_json: Json = False) -> None:
    stub, md = _registry(target, api_key)
    m = stub.EndMandate(reg.EndMandateRequest(request_id=request_id(), mandate_id=mandate_id, reason=reason), metadata=md).mandate
    emit(to_dict(m), as_json, f"mandate {m.mandate_id} ended")


@mandate_app.command("list")
@command
def mandate_list(talent_id: str = "", target: Target = None, api_key: ApiKey = None, as_json: Json = False) -> None:
    stub, md = _registry(target, api_key)
    req = lambda token: stub.ListMandates(reg.ListMandatesRequest(talent_id=talent_id, page_token=token), metadata=md)  # noqa: E731
    for m in paged(req, "mandates"):
        emit(to_dict(m), as_json, f"{m.mandate_id}  {m.agency_id} -> {m.talent_id}  {reg.MandateState.Name(m.state)}")


@app.command("whoami")
@command
def whoami(target: Target = None, api_key: ApiKey = None, as_json: Json = False) -> None:
    stub, md = _registry(target, api_key)
    resp = stub.WhoAmI(reg.WhoAmIRequest(), metadata=md)
    kind = reg.PrincipalKind.Name(resp.kind).removeprefix("PRINCIPAL_KIND_").lower()
    out = {"kind": kind, "principal_id": resp.principal_id}
    text = f"{kind} {resp.principal_id}"
    if resp.kind == reg.PRINCIPAL_KIND_TALENT:
        out |= {"identity_verified": resp.identity_verified, "invited_by_agency_id": resp.invited_by_agency_id}
        text += " (identity verified)" if resp.identity_verified else f" (invited by {resp.invited_by_agency_id}, identity not verified)"
    emit(out, as_json, text)


# --- events -----------------------------------------------------------------------------------


@events_app.command("tail")
@command
def events_tail(
    limit: Annotated[int, typer.Option(help="Stop after this many events (0: no limit).")] = 0,
    timeout: Annotated[float, typer.Option(help="Stop after this many seconds without a new event.")] = 5.0,
    bootstrap: Annotated[str | None, typer.Option(help="Kafka bootstrap (default: .likeness/dev.json).")] = None,
    as_json: Json = False,
) -> None:
    """Print every event from the beginning of every likeness.* topic."""
    import os

    from likeness_cli.client import dev_info

    servers = bootstrap or os.environ.get("LIKENESS_KAFKA_BOOTSTRAP") or dev_info().get("kafka_bootstrap")
    if not servers:
        raise CliError("no Kafka bootstrap: pass --bootstrap or run `likeness dev up`")
    asyncio.run(_tail(servers, limit, timeout, as_json))


@events_app.command("schema")
@command
def events_schema(
    out: Annotated[Path | None, typer.Option("--out", help="Write the descriptor set here (default: standard output).")] = None,
    as_json: Json = False,
) -> None:
    """Write the events' schema: a serialized google.protobuf.FileDescriptorSet holding
    likeness/events/v1/events.proto and every file it imports. Every record value on a likeness.*
    topic is one likeness.events.v1.Event: load the set into a descriptor pool (any language) and
    decode without this repository. With --json (needs --out): a summary of what was written."""
    import hashlib
    import sys

    from likeness_common.events import CONTENT_TYPE, EVENT_MESSAGE, descriptor_set

    files = descriptor_set()
    data = files.SerializeToString(deterministic=True)
    if out is None:
        if as_json:
            raise CliError("--json prints a summary of the file written: pass --out PATH")
        if sys.stdout.isatty():
            raise CliError("the descriptor set is binary: pass --out PATH or redirect standard output")
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return
    out.write_bytes(data)
    summary = {"path": str(out), "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest(), "message": EVENT_MESSAGE,
               "content_type": CONTENT_TYPE, "files": [f.name for f in files.file]}  # fmt: skip
    emit(summary, as_json, f"wrote {len(data)} bytes ({len(files.file)} files) to {out}: records are {EVENT_MESSAGE}")


async def _tail(servers: str, limit: int, idle: float, as_json: bool) -> None:
    from likeness.events.v1 import events_pb2
    from likeness_common import kafka
    from likeness_common.events import event_to_dict
    from likeness_common.topics import ALL_TOPICS

    consumer = kafka.consumer(servers, *(t.name for t in ALL_TOPICS))
    await consumer.start()
    seen = 0
    try:
        while limit == 0 or seen < limit:
            batch = await consumer.getmany(timeout_ms=int(idle * 1000), max_records=limit - seen if limit else 500)
            if not batch:
                return
            for tp, records in batch.items():
                for record in records:
                    event = events_pb2.Event.FromString(record.value)
                    view = event_to_dict(event) | {"topic": tp.topic, "partition": tp.partition, "offset": record.offset}
                    emit(view, as_json, f"{view['occurred_at']}  {view['type']:<20} talent={view['talent_id'] or '-'}  {view['event_id']}")
                    seen += 1
    finally:
        await consumer.stop()
