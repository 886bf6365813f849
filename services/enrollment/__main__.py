"""`python -m enrollment`: run the enrollment service."""

from __future__ import annotations

import asyncio

from likeness_common.db import COMMON, create_pool, migrate
from likeness_common.grpc_server import serve_until_signalled
from likeness_common.logging import configure_logging
from likeness_common.settings import CommonSettings

from .bootstrap import MIGRATIONS, EnrollmentSettings, build_app


async def main() -> None:
    common = CommonSettings()
    configure_logging(common.log_level, common.log_json)
    await migrate(common.database_url, [COMMON, MIGRATIONS])
    pool = await create_pool(common.database_url, common.db_pool_min, common.db_pool_max)
    app = build_app(pool, common.load_kek(), EnrollmentSettings())
    await app.engine.warm_up()
    await app.start_background()

    async def cleanup() -> None:
        await app.stop_background()
        await pool.close()

    await serve_until_signalled(app.server, cleanup)


if __name__ == "__main__":
    asyncio.run(main())
