"""`python -m likeness_common.relay`: the outbox relay as its own process, with its Prometheus
endpoint when LIKENESS_RELAY_METRICS_PORT is set (backlog, lag, published events, leadership)."""

from __future__ import annotations

import asyncio
import signal

from . import metrics
from .logging import configure_logging
from .outbox import OutboxRelay
from .settings import CommonSettings, RelaySettings


async def main() -> None:
    common = CommonSettings()
    configure_logging(common.log_level, common.log_json)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    settings = RelaySettings()
    endpoint = metrics.serve(settings.metrics_host, settings.metrics_port, "relay")
    try:
        await OutboxRelay(common.database_url, common.kafka_bootstrap, settings).run(stop)
    finally:
        if endpoint is not None:
            await asyncio.to_thread(endpoint.stop)


if __name__ == "__main__":
    asyncio.run(main())
