"""Configuration, read from the environment with pydantic-settings.

Two layers, each created once in a process's `__main__` and passed down:
- `CommonSettings` (prefix `LIKENESS_`): what every process shares: Postgres, Kafka, logging.
- one class per service (prefix `LIKENESS_<SERVICE>_`): its port, limits and tuning.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from .crypto import Kek, load_kek
from .tls import ClientTls

__all__ = ["CommonSettings", "RelaySettings", "ServiceSettings", "SettingsConfigDict"]


class CommonSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LIKENESS_", extra="ignore")

    database_url: str = Field(
        "postgresql://likeness@127.0.0.1:5432/likeness", description="asyncpg DSN of the registry database."
    )
    kafka_bootstrap: str = Field("127.0.0.1:9092", description="Kafka bootstrap servers, comma separated.")
    log_level: str = Field("INFO", description="DEBUG, INFO, WARNING or ERROR.")
    log_json: bool | None = Field(None, description="JSON log lines; unset: JSON unless stderr is a TTY.")
    db_pool_min: int = Field(1, ge=0, description="Minimum connections per pool.")
    db_pool_max: int = Field(10, ge=1, description="Maximum connections per pool.")
    kek: SecretStr | None = Field(None, description="Key-encryption key, base64 of 32 bytes (or use kek_file).")
    kek_file: Path | None = Field(None, description="File holding the base64 key-encryption key.")
    kek_previous_file: Path | None = Field(None, description="During a KEK rotation: the old key, still accepted for unwrapping.")

    tls_ca_file: Path | None = Field(None, description="Calls to other services use TLS and trust this CA (PEM).")
    tls_client_cert_file: Path | None = Field(None, description="Certificate presented on those calls (mutual TLS).")
    tls_client_key_file: Path | None = Field(None, description="Key of tls_client_cert_file.")

    def client_tls(self) -> ClientTls:
        return ClientTls(self.tls_ca_file, self.tls_client_cert_file, self.tls_client_key_file)

    def load_kek(self) -> Kek:
        return load_kek(self.kek.get_secret_value() if self.kek else None, self.kek_file, self.kek_previous_file)


class ServiceSettings(BaseSettings):
    """Base of every gRPC service's own settings; subclasses set `env_prefix`."""

    model_config = SettingsConfigDict(extra="ignore")

    host: str = Field("127.0.0.1", description="Interface the gRPC server binds.")
    port: int = Field(0, ge=0, le=65535, description="gRPC port; 0 picks a free one.")
    max_message_bytes: int = Field(
        50 * 1024 * 1024, ge=1024, description="Largest request accepted; larger ones get RESOURCE_EXHAUSTED."
    )
    shutdown_grace_seconds: float = Field(5.0, ge=0, description="How long in-flight RPCs get on SIGTERM.")
    rate_limit_per_second: float = Field(
        5000.0, ge=0, description="Sustained calls per second per principal (per peer when unauthenticated); 0: no limit."
    )
    rate_limit_burst: int = Field(10_000, ge=1, description="Calls a principal may make at once above the sustained rate.")
    rate_limit_max_keys: int = Field(100_000, ge=1, description="Token buckets kept (least recently used dropped first).")
    metrics_port: int | None = Field(
        None, ge=0, le=65535, description="Prometheus /metrics port on `host`; 0 picks a free one; unset: no endpoint."
    )
    tls_cert_file: Path | None = Field(None, description="PEM certificate chain: serve gRPC over TLS (with tls_key_file).")
    tls_key_file: Path | None = Field(None, description="PEM private key of tls_cert_file.")
    tls_client_ca_file: Path | None = Field(
        None, description="Mutual TLS: clients must present a certificate signed by this CA (PEM)."
    )

    @model_validator(mode="after")
    def _tls_complete(self) -> ServiceSettings:
        if (self.tls_cert_file is None) != (self.tls_key_file is None):
            raise ValueError("tls_cert_file and tls_key_file go together")
        if self.tls_client_ca_file is not None and self.tls_cert_file is None:
            raise ValueError("tls_client_ca_file (mutual TLS) needs tls_cert_file and tls_key_file")
        return self


class RelaySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LIKENESS_RELAY_", extra="ignore")

    batch_size: int = Field(500, ge=1, le=10_000, description="Outbox rows published per round.")
    poll_interval_seconds: float = Field(
        0.5, gt=0, description="Fallback poll period; a NOTIFY from a committing writer wakes the relay at once."
    )
    leader_retry_seconds: float = Field(0.5, gt=0, description="How often a standby relay tries to become leader.")
    replay_window_seconds: float = Field(
        3600.0, ge=0, description="When the broker lost its state (marker topic gone): how far back the outbox is published again."
    )
    throwaway_broker: bool = Field(
        False,
        description="The broker is a disposable in-memory one (dev stack, tests): when its marker topic vanishes the relay "
        "deletes the topics the broker made up, recreates them and replays. Never set it for a real cluster: there the relay "
        "only reports the anomaly and keeps publishing.",
    )
    metrics_host: str = Field("127.0.0.1", description="Interface of the Prometheus /metrics endpoint.")
    metrics_port: int | None = Field(None, ge=0, le=65535, description="Prometheus /metrics port; 0 picks a free one; unset: none.")
