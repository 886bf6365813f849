"""Fault tests kill and restart Postgres and the broker: each such test gets a stack of its own
(`own_stack`), so the session's shared Postgres and broker, and every pool on them, stay untouched."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from likeness_common import kafka
from likeness_common.devstack import Postgres, Tansu, prepare_database, write_dev_kek
from tests.conftest import Stack, all_migrations


@pytest.fixture
async def own_stack() -> AsyncIterator[Stack]:
    """A throwaway Postgres (migrated) and Tansu, started by the same code as the session's."""
    state_dir = Path(tempfile.mkdtemp(prefix="likeness-fault-"))
    state_dir.chmod(0o755)  # the postgres user must be able to enter it
    postgres, tansu = Postgres(state_dir), Tansu(state_dir)
    try:
        await asyncio.gather(asyncio.to_thread(postgres.start), asyncio.to_thread(tansu.start))
        await kafka.create_topics(tansu.bootstrap)
        operator_key = await prepare_database(postgres.dsn, all_migrations())
        yield Stack(state_dir, postgres, tansu, operator_key, write_dev_kek(state_dir))
    finally:
        await asyncio.gather(asyncio.to_thread(tansu.child.kill if tansu.child else tansu.stop), asyncio.to_thread(postgres.stop))
        shutil.rmtree(state_dir, ignore_errors=True)
