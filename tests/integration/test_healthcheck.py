"""The container / Kubernetes probe command against a real server."""

from __future__ import annotations

import asyncio
import sys

from likeness_devstack import free_port


async def probe(target: str) -> tuple[int, str]:
    # A subprocess without blocking the loop: the server under test runs on this loop.
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "likeness_common.healthcheck", target,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)  # fmt: skip
    _, err = await asyncio.wait_for(proc.communicate(), 30)
    return proc.returncode, err.decode()


async def test_probe_passes_on_a_serving_server_and_fails_on_a_closed_port(registry_target):
    assert await probe(registry_target) == (0, "")
    code, err = await probe(f"127.0.0.1:{free_port()}")
    assert code == 1 and "UNAVAILABLE" in err
