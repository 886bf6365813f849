"""`python -m verification.rotate_index_key`: rotate the key of the cluster index's template rotation
(LIKENESS_VERIFICATION_INDEX_ENGINE=qdrant), with no downtime.

It adds a pending key and returns at once, printing its id. The verification and enrollment
replicas do the rest (adapters/index_cluster): one of them builds the new key's collections from
Postgres and follows the outbox into them while every replica keeps serving the old ones, then
activates the new key and erases the old one in one transaction; the replicas switch at their next
catch-up, and the old collections are dropped two staleness bounds later. `--wait` waits for the
switch and prints the new active key. Needs the database and the KEK, like `likeness_common.rotate_kek`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time

import asyncpg

from likeness_common.settings import CommonSettings

from .adapters.index_cluster import start_rotation


async def main(wait_seconds: float) -> None:
    settings = CommonSettings()
    pool = await asyncpg.create_pool(settings.database_url, min_size=1, max_size=2)
    try:
        key_id = await start_rotation(pool, settings.load_kek())
        print(json.dumps({"pending": key_id}), flush=True)
        deadline = time.monotonic() + wait_seconds
        while wait_seconds and time.monotonic() < deadline:
            if await pool.fetchval("SELECT activated_at IS NOT NULL FROM index_keys WHERE key_id = $1", key_id):
                print(json.dumps({"active": key_id}))
                return
            await asyncio.sleep(1.0)
        if wait_seconds:
            raise SystemExit(f"{key_id} is not active after {wait_seconds:g} s: is a replica running in cluster mode?")
    finally:
        await pool.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--wait", type=float, default=0.0, metavar="SECONDS", help="Wait up to this long for the new key to be active.")
    asyncio.run(main(parser.parse_args().wait))
