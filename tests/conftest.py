"""Session fixtures: one real PostgreSQL cluster and one Tansu broker for the whole run, started by
the same code as `likeness dev up`; servers on port 0; unique ids per test."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

# The suite forks service and relay processes while gRPC threads run; gRPC's fork handlers only log.
os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")

import asyncpg
import grpc
import pytest

from likeness_common import kafka
from likeness_common.db import create_pool
from likeness_common.logging import configure_logging
from likeness_devstack import SHARED_DATA, Postgres, Tansu, prepare_database, write_dev_kek

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Stack:
    state_dir: Path
    postgres: Postgres
    tansu: Tansu
    operator_key: str
    kek_file: Path

    @property
    def dsn(self) -> str:
        return self.postgres.dsn

    @property
    def bootstrap(self) -> str:
        return self.tansu.bootstrap

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "LIKENESS_DATABASE_URL": self.dsn,
            "LIKENESS_KAFKA_BOOTSTRAP": self.bootstrap,
            "LIKENESS_LOG_JSON": "true",
            "LIKENESS_KEK_FILE": str(self.kek_file),
            "LIKENESS_RELAY_THROWAWAY_BROKER": "true",  # the session's in-memory Tansu
        }


def all_migrations() -> list:
    from consent.bootstrap import MIGRATIONS as consent
    from enrollment.bootstrap import MIGRATIONS as enrollment
    from registry.bootstrap import MIGRATIONS as registry
    from verification.bootstrap import MIGRATIONS as verification

    return [registry, consent, enrollment, verification]


def shared_data(*parts: str) -> Path:
    """A file under ../shared/data; the test skips with a clear message when it is absent."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"real media not available: {path} (tests read ../shared/data in place)")
    return path


@contextlib.asynccontextmanager
async def throwaway_stack(prefix: str = "likeness-test-") -> AsyncIterator[Stack]:
    """A migrated Postgres and a Tansu broker in a fresh state directory, started by the same code
    as `likeness dev up`, stopped and deleted on exit."""
    # Not under pytest's 0700 tmp: the postgres user must be able to enter it.
    state_dir = Path(tempfile.mkdtemp(prefix=prefix))
    state_dir.chmod(0o755)
    postgres, tansu = Postgres(state_dir), Tansu(state_dir)
    try:
        await asyncio.gather(asyncio.to_thread(postgres.start), asyncio.to_thread(tansu.start))
        await kafka.create_topics(tansu.bootstrap)
        operator_key = await prepare_database(postgres.dsn, all_migrations())
        yield Stack(state_dir, postgres, tansu, operator_key, write_dev_kek(state_dir))
    finally:
        # kill: a test may have left the broker stopped or restarted under another process.
        await asyncio.gather(asyncio.to_thread(tansu.child.kill if tansu.child else tansu.stop), asyncio.to_thread(postgres.stop))
        shutil.rmtree(state_dir, ignore_errors=True)


@pytest.fixture(scope="session")
async def stack() -> AsyncIterator[Stack]:
    configure_logging("WARNING", json=True)
    async with throwaway_stack() as started:
        yield started


@pytest.fixture(scope="session")
async def pool(stack: Stack) -> AsyncIterator[asyncpg.Pool]:
    db = await create_pool(stack.dsn, 1, 20)
    yield db
    await db.close()


@pytest.fixture(scope="session")
async def registry_target(pool: asyncpg.Pool) -> AsyncIterator[str]:
    from registry.bootstrap import RegistrySettings, build_app

    app = build_app(pool, RegistrySettings(port=0, shutdown_grace_seconds=0.5))
    port = await app.start()
    yield f"127.0.0.1:{port}"
    await app.stop()


@pytest.fixture(scope="session")
async def channel(registry_target: str) -> AsyncIterator[grpc.aio.Channel]:
    async with grpc.aio.insecure_channel(registry_target) as ch:
        yield ch


@dataclass
class Replica:
    app: object
    target: str


async def _consent_replica(stack: Stack, pool: asyncpg.Pool) -> Replica:
    from consent.bootstrap import ConsentSettings, build_app
    from likeness_common.crypto import load_kek

    # Staleness bound: in-process servers share the event loop with test code that blocks it (media
    # synthesis), so the session's replicas allow a minute; the tests of the bound set their own.
    settings = ConsentSettings(port=0, shutdown_grace_seconds=0.5, expiry_sweep_seconds=3600, view_max_staleness_seconds=60)
    app = build_app(pool, stack.dsn, load_kek(None, stack.kek_file), settings)
    port = await app.start()
    return Replica(app, f"127.0.0.1:{port}")


@pytest.fixture(scope="session")
async def consent_app(stack: Stack, pool: asyncpg.Pool) -> AsyncIterator:
    """Consent replica A (the sweeper is idle: tests call it directly)."""
    replica = await _consent_replica(stack, pool)
    yield replica
    await replica.app.stop()


@pytest.fixture(scope="session")
async def consent_app_b(stack: Stack, pool: asyncpg.Pool) -> AsyncIterator:
    """Consent replica B: its own cached view, fed only by NOTIFY and catch-up."""
    replica = await _consent_replica(stack, pool)
    yield replica
    await replica.app.stop()


@pytest.fixture(scope="session")
async def enrollment_app(stack: Stack, pool: asyncpg.Pool) -> AsyncIterator[Replica]:
    """The enrollment service with one real worker process (dlib + Resemblyzer loaded once)."""
    from enrollment.bootstrap import EnrollmentSettings, build_app
    from likeness_common.crypto import load_kek
    from verification.bootstrap import VerificationSettings

    settings = EnrollmentSettings(port=0, shutdown_grace_seconds=0.5, retention_sweep_seconds=3600)
    app = build_app(pool, stack.dsn, load_kek(None, stack.kek_file), settings, verification=VerificationSettings(index_max_staleness_seconds=60))
    port = await app.start()
    yield Replica(app, f"127.0.0.1:{port}")
    await app.stop()


async def start_verification(stack: Stack, pool: asyncpg.Pool, consent_target: str, qdrant=None, **overrides) -> Replica:
    """A verification replica: its own worker pool, its own index loaded from and following Postgres
    (or, with index_engine="qdrant", the shared one in `qdrant`, a qdrant-client)."""
    from likeness_common.crypto import load_kek
    from verification.bootstrap import VerificationSettings, build_app

    overrides.setdefault("index_max_staleness_seconds", 60)  # (see _consent_replica)
    settings = VerificationSettings(port=0, shutdown_grace_seconds=0.5, consent_target=consent_target, **overrides)
    app = build_app(pool, stack.dsn, load_kek(None, stack.kek_file), settings, qdrant=qdrant)
    port = await app.start()
    return Replica(app, f"127.0.0.1:{port}")


@pytest.fixture(scope="session")
async def verification_app(stack: Stack, pool: asyncpg.Pool, consent_app: Replica) -> AsyncIterator[Replica]:
    """The verification service with two worker processes (a video's frames are split between them)."""
    replica = await start_verification(stack, pool, consent_app.target, workers=2)
    yield replica
    await replica.app.stop()


def bearer(api_key: str) -> list[tuple[str, str]]:
    return [("authorization", f"Bearer {api_key}")]


def error_reason(error: grpc.aio.AioRpcError) -> str:
    """The ErrorInfo.reason of a failed call ("" when there is none)."""
    from google.rpc import error_details_pb2
    from grpc_status import rpc_status

    status = rpc_status.from_call(error)
    for detail in status.details if status else ():
        info = error_details_pb2.ErrorInfo()
        if detail.Unpack(info):
            return info.reason
    return ""


def unique(label: str = "x") -> str:
    return f"{label}-{uuid.uuid4().hex[:10]}"
