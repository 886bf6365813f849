"""`python -m likeness_common.rotate_kek`: re-wrap every secret the KEK protects under the current
KEK. Templates are untouched (they are sealed by the talent data keys, which only get re-wrapped).

Rotation, with no downtime:
1. Write the new key; give every service `LIKENESS_KEK_FILE=<new>` and
   `LIKENESS_KEK_PREVIOUS_FILE=<old>` (rolling restart): they wrap with the new key and unwrap both.
2. Run this command with the same two settings: talent data keys, signing keys and the index rotation keys are re-wrapped
   under the new key, in one transaction; it prints how many.
3. Drop `LIKENESS_KEK_PREVIOUS_FILE` (rolling restart) and destroy the old key.
"""

from __future__ import annotations

import asyncio
import json

import asyncpg

from .crypto import Kek
from .settings import CommonSettings

# table -> (id column, wrapped column): the id is the AAD the blob was wrapped with.
WRAPPED = {"talent_data_keys": ("talent_id", "wrapped_key"), "signing_keys": ("key_id", "private_key_wrapped"),
           "index_keys": ("key_id", "wrapped_key")}


async def rewrap(conn: asyncpg.Connection, kek: Kek) -> dict[str, int]:
    counts = {}
    async with conn.transaction():
        for table, (id_column, column) in WRAPPED.items():
            rows = await conn.fetch(f"SELECT {id_column} AS id, {column} AS blob FROM {table} WHERE {column} IS NOT NULL FOR UPDATE")
            stale = [r for r in rows if not kek.wrapped_by_current(r["blob"])]
            for r in stale:
                plain = kek.unwrap(r["blob"], r["id"].encode())
                await conn.execute(f"UPDATE {table} SET {column} = $2 WHERE {id_column} = $1", r["id"], kek.wrap(plain, r["id"].encode()))
            counts[table] = len(stale)
    return counts


async def main() -> None:
    settings = CommonSettings()
    conn = await asyncpg.connect(settings.database_url)
    try:
        print(json.dumps({"rewrapped": await rewrap(conn, settings.load_kek())}))
    finally:
        await conn.close()


if __name__ == "__main__":
    asyncio.run(main())
