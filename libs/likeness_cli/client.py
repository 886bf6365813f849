"""Where the CLI connects and as whom: flags, then env, then `.likeness/dev.json`."""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import dataclass
from pathlib import Path

import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from likeness_common.tls import ClientTls, sync_channel

DEV_JSON = Path(".likeness") / "dev.json"


def dev_info() -> dict:
    path = Path(os.environ.get("LIKENESS_DEV_JSON", DEV_JSON))
    if path.exists():
        return json.loads(path.read_text())
    return {}


# Set by the global --ca/--cert/--key options (main.py); None: from the environment or dev.json.
TLS_FLAGS: dict[str, Path | None] = {"ca": None, "cert": None, "key": None}


def client_tls(info: dict) -> ClientTls:
    """Flags, then LIKENESS_TLS_CA_FILE / _CLIENT_CERT_FILE / _CLIENT_KEY_FILE, then the dev stack's
    throwaway PKI (`likeness dev up --tls`); none of them: plaintext."""
    env = {"ca": "LIKENESS_TLS_CA_FILE", "cert": "LIKENESS_TLS_CLIENT_CERT_FILE", "key": "LIKENESS_TLS_CLIENT_KEY_FILE"}
    dev = info.get("tls") or {}
    paths = {k: TLS_FLAGS[k] or os.environ.get(env[k]) or dev.get(k) for k in env}
    try:
        return ClientTls(*(Path(paths[k]) if paths[k] else None for k in ("ca", "cert", "key")))
    except ValueError as exc:
        raise CliError(f"TLS options: {exc}") from exc


@dataclass
class Connection:
    target: str
    api_key: str
    tls: ClientTls = ClientTls()

    def channel(self) -> grpc.Channel:
        try:
            return sync_channel(
                self.target, self.tls,
                options=[("grpc.max_send_message_length", 64 << 20), ("grpc.max_receive_message_length", 64 << 20)],
            )  # fmt: skip
        except ValueError as exc:  # an unreadable CA / certificate / key file
            raise CliError(str(exc)) from exc

    @property
    def metadata(self) -> list[tuple[str, str]]:
        return [("authorization", f"Bearer {self.api_key}")] if self.api_key else []


def connect(service: str, target: str | None, api_key: str | None) -> Connection:
    info = dev_info()
    resolved_target = target or os.environ.get("LIKENESS_TARGET") or info.get("services", {}).get(service)
    if not resolved_target:
        raise CliError(f"no target for the {service} service: pass --target, set LIKENESS_TARGET or run `likeness dev up`")
    resolved_key = api_key or os.environ.get("LIKENESS_API_KEY") or info.get("operator_api_key", "")
    return Connection(resolved_target, resolved_key, client_tls(info))


def request_id() -> str:
    return str(uuid.uuid4())


class CliError(Exception):
    """A failure to show the user: message, plus the gRPC code and reason when there are any."""

    def __init__(self, message: str, code: str = "", reason: str = "", violations: list[dict] | None = None) -> None:
        super().__init__(message)
        self.message, self.code, self.reason, self.violations = message, code, reason, violations or []

    def as_dict(self) -> dict:
        out: dict = {"message": self.message}
        if self.code:
            out["code"] = self.code
        if self.reason:
            out["reason"] = self.reason
        if self.violations:
            out["field_violations"] = self.violations
        return {"error": out}

    @classmethod
    def from_rpc(cls, error: grpc.RpcError) -> CliError:
        code = error.code().name if error.code() else "UNKNOWN"
        reason, violations = "", []
        status = rpc_status.from_call(error)
        if status is not None:
            for detail in status.details:
                if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
                    info = error_details_pb2.ErrorInfo()
                    detail.Unpack(info)
                    reason = info.reason
                elif detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
                    bad = error_details_pb2.BadRequest()
                    detail.Unpack(bad)
                    violations = [{"field": v.field, "description": v.description} for v in bad.field_violations]
        return cls(error.details() or code, code, reason, violations)
