"""What every service process is: a gRPC server plus background work (sweepers, followers) that
starts before the server takes traffic and stops after it has drained, and its Prometheus
endpoint when the service's settings give a `metrics_port`."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import structlog

from . import metrics
from .db import COMMON, create_pool, migrate
from .grpc_server import GrpcServer, serve_until_signalled
from .logging import configure_logging
from .settings import CommonSettings

log = structlog.get_logger("likeness.app")


@dataclass
class Periodic:
    """`job` every `seconds`; a failure (a database outage...) is logged and the next round runs."""

    name: str
    seconds: float
    job: Callable[[], Awaitable[object]]


@dataclass
class ServiceApp:
    server: GrpcServer
    periodic: list[Periodic] = field(default_factory=list)
    _tasks: list[asyncio.Task] = field(default_factory=list, init=False)
    metrics_endpoint: metrics.MetricsEndpoint | None = field(default=None, init=False)

    async def on_start(self) -> None:
        """Before periodic jobs and the server start (load caches, ensure keys...)."""

    async def on_stop(self) -> None:
        """After the server stopped and periodic jobs were cancelled (close pools, clients...)."""

    async def start_background(self) -> None:
        settings = self.server.settings
        name = type(settings).__name__.removesuffix("Settings").lower()
        self.metrics_endpoint = metrics.serve(settings.host, settings.metrics_port, name)
        await self.on_start()
        self._tasks = [asyncio.create_task(self._every(p), name=p.name) for p in self.periodic]

    async def stop_background(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        await self.on_stop()
        if self.metrics_endpoint is not None:
            await asyncio.to_thread(self.metrics_endpoint.stop)
            self.metrics_endpoint = None

    async def start(self) -> int:
        await self.start_background()
        return await self.server.start()

    async def stop(self) -> None:
        await self.server.stop()
        await self.stop_background()

    @staticmethod
    async def _every(p: Periodic) -> None:
        while True:
            await asyncio.sleep(p.seconds)
            try:
                result = await p.job()
                if result:
                    log.info("periodic job did work", job=p.name, result=result)
            except Exception as error:
                log.warning("periodic job failed", job=p.name, error=repr(error))


def run_service(migrations: list, build: Callable[[object, CommonSettings], ServiceApp]) -> None:
    """The `python -m <service>` entry point: settings, logging, migrations, pool, serve until
    SIGTERM/SIGINT, then drain and stop background work."""

    async def main() -> None:
        common = CommonSettings()
        configure_logging(common.log_level, common.log_json)
        await migrate(common.database_url, [COMMON, *migrations])
        pool = await create_pool(common.database_url, common.db_pool_min, common.db_pool_max)
        app = build(pool, common)
        await app.start_background()

        async def cleanup() -> None:
            await app.stop_background()
            await pool.close()

        await serve_until_signalled(app.server, cleanup)

    asyncio.run(main())
