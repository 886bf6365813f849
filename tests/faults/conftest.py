"""Fault tests kill and restart Postgres and the broker: each such test gets a stack of its own
(`own_stack`), so the session's shared Postgres and broker, and every pool on them, stay untouched."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.conftest import Stack, throwaway_stack


@pytest.fixture
async def own_stack() -> AsyncIterator[Stack]:
    async with throwaway_stack("likeness-fault-") as stack:
        yield stack
