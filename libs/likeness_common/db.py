"""asyncpg pool and schema migrations.

Migrations are plain numbered SQL files (`0001_name.sql`) per component folder, each applied in
its own transaction and recorded in `schema_migrations (component, version)`. A session advisory
lock lets several processes start at once: one applies, the others wait and then find nothing to
do.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import structlog

log = structlog.get_logger("likeness.db")

_MIGRATION_LOCK = 0x4C4B_4D49  # arbitrary constant: "LKMI"
_FILE = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


@dataclass(frozen=True)
class Migrations:
    component: str
    folder: Path

    def files(self) -> list[tuple[int, Path]]:
        found = []
        for path in sorted(self.folder.glob("*.sql")):
            match = _FILE.match(path.name)
            if not match:
                raise ValueError(f"migration file name must look like 0001_name.sql: {path}")
            found.append((int(match.group(1)), path))
        return found


COMMON = Migrations("common", Path(__file__).parent / "migrations")


async def create_pool(dsn: str, min_size: int = 1, max_size: int = 10) -> asyncpg.Pool:
    return await asyncpg.create_pool(dsn, min_size=min_size, max_size=max_size, command_timeout=30)


async def migrate(dsn: str, components: list[Migrations]) -> list[str]:
    """Apply what is missing; return the names applied."""
    applied: list[str] = []
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("SELECT pg_advisory_lock($1)", _MIGRATION_LOCK)
        await conn.execute(
            """CREATE TABLE IF NOT EXISTS schema_migrations (
                   component text NOT NULL,
                   version integer NOT NULL,
                   name text NOT NULL,
                   applied_at timestamptz NOT NULL DEFAULT now(),
                   PRIMARY KEY (component, version))"""
        )
        for migrations in components:
            done = {
                r["version"]
                for r in await conn.fetch(
                    "SELECT version FROM schema_migrations WHERE component = $1", migrations.component
                )
            }
            for version, path in migrations.files():
                if version in done:
                    continue
                async with conn.transaction():
                    await conn.execute(path.read_text())
                    await conn.execute(
                        "INSERT INTO schema_migrations (component, version, name) VALUES ($1, $2, $3)",
                        migrations.component,
                        version,
                        path.name,
                    )
                applied.append(f"{migrations.component}/{path.name}")
                log.info("migration applied", component=migrations.component, file=path.name)
    finally:
        await conn.close()
    return applied
