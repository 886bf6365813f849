"""The 1:N index as the service runs it: loaded from Postgres at start (templates decrypted with
each talent's data key), kept current by following the enrollment topic on Kafka, searched in a
worker thread so a big scan never blocks the event loop.

Staleness: a FaceEnrolled / VoiceEnrolled / BiometricsErased event reloads that talent from
Postgres. Events older than the start-up load (minus a margin for transactions in flight) are
skipped, so a restart does not replay history. Each replica follows the topic on its own (no
consumer group): every replica sees every event.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from datetime import UTC, datetime, timedelta

import asyncpg
import numpy as np
import structlog

from likeness.events.v1 import events_pb2
from likeness_common import topics
from likeness_common.crypto import Kek
from likeness_common.kafka import consumer
from likeness_common.templates import open_sealed

from ..domain.index import Metric, ModalityIndex
from ..domain.model import Modality, Probe, ProbeHit

log = structlog.get_logger("likeness.verification.index")

DIMS = {Modality.FACE: 128, Modality.VOICE: 256}
_REPLAY_MARGIN = timedelta(seconds=60)
_RELOADING = ("face_enrolled", "voice_enrolled", "biometrics_erased")


class LikenessIndex:
    """Both modalities; scores are "higher is closer" (face: 1 - distance, voice: cosine)."""

    def __init__(self, models: dict[str, str], ivf_min_rows: int = 200_000, nprobe: dict[Modality, int] | None = None) -> None:
        self.models = models  # modality -> "name/version": only comparable templates are loaded
        nprobe = nprobe or {Modality.FACE: 128, Modality.VOICE: 256}
        metrics = {Modality.FACE: Metric.EUCLIDEAN, Modality.VOICE: Metric.COSINE}
        self.by_modality = {
            m: ModalityIndex(DIMS[m], metrics[m], ivf_min_rows=ivf_min_rows, nprobe=nprobe[m]) for m in (Modality.FACE, Modality.VOICE)
        }
        self.loaded_at: datetime | None = None
        self._write_lock = asyncio.Lock()
        self.last_change: dict[str, float] = {}  # talent -> monotonic time of the last reload (tests, metrics)

    def replace(self, talent_id: str, vectors: dict[Modality, list[np.ndarray]]) -> None:
        """Synchronous: for the start-up load, before the server takes traffic."""
        for modality, index in self.by_modality.items():
            index.replace(talent_id, vectors.get(modality, []))
        self.last_change[talent_id] = time.monotonic()

    async def apply(self, talent_id: str, vectors: dict[Modality, list[np.ndarray]]) -> None:
        """While serving: one writer at a time, in a thread (growing or compacting a large index
        copies hundreds of MB; searches meanwhile read their snapshot)."""
        async with self._write_lock:
            await asyncio.to_thread(self.replace, talent_id, vectors)

    def contains(self, talent_id: str, modality: Modality) -> bool:
        return self.by_modality[modality].has(talent_id)

    def sizes(self) -> dict[str, int]:
        return {m.value: i.templates for m, i in self.by_modality.items()}

    def search_sync(self, probes: list[Probe], floor: dict[Modality, float]) -> list[ProbeHit]:
        hits: list[ProbeHit] = []
        for modality, index in self.by_modality.items():
            mine = [p for p in probes if p.modality is modality]
            if not mine:
                continue
            matrix = np.stack([np.asarray(p.vector, np.float32) for p in mine])
            if modality is Modality.FACE:
                for h in index.search(matrix, bound=1.0 - floor[modality]):
                    hits.append(ProbeHit(mine[h.probe], h.talent_id, 1.0 - h.value))
            else:
                for h in index.search(matrix, bound=floor[modality]):
                    hits.append(ProbeHit(mine[h.probe], h.talent_id, h.value))
        return hits

    async def search(self, probes: list[Probe], floor: dict[Modality, float]) -> list[ProbeHit]:
        return await asyncio.to_thread(self.search_sync, probes, floor)


class TemplateLoader:
    """Reads and decrypts templates from Postgres into the index."""

    def __init__(self, pool: asyncpg.Pool, kek: Kek, index: LikenessIndex) -> None:
        self._pool, self._kek, self._index = pool, kek, index

    def _comparable(self, row: asyncpg.Record) -> bool:
        return self._index.models.get(row["modality"]) == f"{row['model_name']}/{row['model_version']}"

    async def load_all(self, batch: int = 5000) -> int:
        """Every talent's sample templates. Returns the number of templates loaded."""
        started = datetime.now(UTC)
        loaded = 0
        for index in self._index.by_modality.values():
            index.begin_bulk()
        try:
            loaded = await self._load_all(batch)
        finally:  # train the IVF (past ivf_min_rows) once, off the loop
            for index in self._index.by_modality.values():
                await asyncio.to_thread(index.end_bulk)
        self._index.loaded_at = started
        log.info("index loaded", templates=loaded, sizes=self._index.sizes())
        return loaded

    async def _load_all(self, batch: int) -> int:
        loaded = 0
        async with self._pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
            keys = {r["talent_id"]: r["wrapped_key"] for r in await conn.fetch("SELECT talent_id, wrapped_key FROM talent_data_keys")}
            talent, dek, vectors = None, b"", {}
            cursor = conn.cursor(
                "SELECT template_id, talent_id, modality, model_name, model_version, sealed FROM templates "
                "WHERE kind = 'sample' ORDER BY talent_id, template_id",
                prefetch=batch,
            )
            async for row in cursor:
                if row["talent_id"] != talent:
                    if talent is not None:
                        self._index.replace(talent, vectors)
                    talent, vectors = row["talent_id"], {}
                    wrapped = keys.get(talent)
                    dek = self._kek.unwrap(wrapped, talent.encode()) if wrapped else b""
                if not dek or not self._comparable(row):
                    continue
                vectors.setdefault(Modality(row["modality"]), []).append(open_sealed(dek, row["sealed"], row["template_id"]))
                loaded += 1
            if talent is not None:
                self._index.replace(talent, vectors)
        return loaded

    async def reload(self, talent_id: str) -> None:
        async with self._pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
            wrapped = await conn.fetchval("SELECT wrapped_key FROM talent_data_keys WHERE talent_id = $1", talent_id)
            rows = await conn.fetch(
                "SELECT template_id, modality, model_name, model_version, sealed FROM templates "
                "WHERE talent_id = $1 AND kind = 'sample' ORDER BY template_id",
                talent_id,
            )
        vectors: dict[Modality, list[np.ndarray]] = {}
        if wrapped is not None:
            dek = self._kek.unwrap(wrapped, talent_id.encode())
            for row in rows:
                if self._comparable(row):
                    vectors.setdefault(Modality(row["modality"]), []).append(open_sealed(dek, row["sealed"], row["template_id"]))
        await self._index.apply(talent_id, vectors)
        log.info("talent reloaded", talent_id=talent_id, templates={m.value: len(v) for m, v in vectors.items()})


class EnrollmentFollower:
    """Follows `likeness.enrollment.events` and reloads the talent each event names."""

    def __init__(self, bootstrap: str, loader: TemplateLoader, index: LikenessIndex) -> None:
        self._bootstrap, self._loader, self._index = bootstrap, loader, index
        self._task: asyncio.Task | None = None
        self.applied = 0

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="enrollment-follower")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            kafka = consumer(self._bootstrap, topics.ENROLLMENT.name)
            try:
                await kafka.start()
                async for record in kafka:
                    await self._apply(record.value)
            except asyncio.CancelledError:
                raise
            except Exception as error:  # broker gone or Postgres hiccup: start over, reloads are idempotent
                log.warning("enrollment follower restarting", error=repr(error))
                await asyncio.sleep(1.0)
            finally:
                await kafka.stop()

    async def _apply(self, raw: bytes) -> None:
        event = events_pb2.Event.FromString(raw)
        if event.WhichOneof("payload") not in _RELOADING or not event.talent_id:
            return
        loaded_at = self._index.loaded_at
        if loaded_at is not None and event.occurred_at.ToDatetime(tzinfo=UTC) < loaded_at - _REPLAY_MARGIN:
            return  # already in the start-up load
        await self._loader.reload(event.talent_id)
        self.applied += 1
