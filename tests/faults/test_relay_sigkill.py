"""The relay is SIGKILLed ten times at random points (before it leads, mid-round, between rounds)
while writers keep committing outbox events: every event still reaches the broker, in commit order
per talent; duplicates (a round killed after its sends, before its UPDATE) share the event id."""

from __future__ import annotations

import asyncio
import random
import time

import pytest

from likeness_common import topics
from tests.faults.support import Seen, append, committed, order_broken, read_all_topics, talent_keys
from tests.support import relay_process, wait_drained

pytestmark = pytest.mark.faults

KILLS = 10
KEYS = 20
PER_TRANSACTION = 10


async def _leaderships(path) -> int:
    return path.read_text().count('"relay is leader"') if path.exists() else 0


async def test_relay_sigkilled_ten_times_loses_no_event(stack, pool):
    keys = talent_keys("kill", KEYS)
    spread = (topics.REGISTRY.name, topics.ENROLLMENT.name)
    relay = relay_process(stack, f"relay-sigkill-{keys[0][-8:]}")
    rng = random.Random()
    writing = asyncio.Event()
    writing.set()

    async def write() -> int:
        i = 0
        while writing.is_set():
            await append(pool, keys[i % KEYS], PER_TRANSACTION, spread[i % KEYS % 2])
            i += 1
            await asyncio.sleep(0.02)
        return i * PER_TRANSACTION

    writer = asyncio.create_task(write())
    started, written = time.monotonic(), None
    try:
        for kill in range(KILLS):
            relay.start()
            while await _leaderships(relay.log_path) <= kill:  # this run leads (or the kill lands before: no matter)
                assert relay.process.poll() is None, "the relay exited"
                await asyncio.sleep(0.01)
            await asyncio.sleep(rng.uniform(0.0, 0.3))  # somewhere in or between rounds
            relay.kill()
        relay.start()  # the survivor drains the backlog
        writing.clear()
        written = await writer
        await wait_drained(pool, keys, timeout=60)
        drained_s = time.monotonic() - started
    finally:
        writing.clear()
        relay.stop()
        if written is None:
            writer.cancel()

    order = await committed(pool, keys)
    want = {e for ids in order.values() for e in ids}
    assert len(want) == written
    seen = Seen()
    await read_all_topics(stack.bootstrap, seen, set(keys), want, timeout=60)
    missing = want - seen.ids()
    assert not missing, f"{len(missing)} of {written} events never reached the broker"
    assert order_broken(seen, order) == [], "per-talent order broken"
    print(f"\n{KILLS} relay SIGKILLs, {written} events: all on the broker, {seen.records - written} duplicates; drained {drained_s:.1f}s after the first start")
