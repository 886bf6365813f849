"""`python -m likeness_common.relay`: the outbox relay as its own process."""

from __future__ import annotations

import asyncio
import signal

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
    await OutboxRelay(common.database_url, common.kafka_bootstrap, RelaySettings()).run(stop)


if __name__ == "__main__":
    asyncio.run(main())
