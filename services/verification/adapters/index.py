"""The 1:N index as the service runs it: loaded from Postgres at start (templates decrypted with
each talent's data key), kept current from Postgres commit order, searched in a worker thread so a
big scan never blocks the event loop.

Following (`IndexFollower`): every enrollment change writes an outbox row in the transaction that
changes the templates (FaceEnrolled, VoiceEnrolled, BiometricsErased, keyed by talent), and outbox
ids follow commit order (the outbox write lock). The follower reads the rows past its cursor and
reloads each talent they name: NOTIFY from the committing writer wakes it at once, a poll every
`poll_seconds` is the fallback. Kafka is not on this path: the index stays current while the broker
is down. The start-up load reads the templates and the cursor in one snapshot, so nothing is missed
or replayed.

Failing closed: past `max_staleness_seconds` without a successful catch-up, searches are refused
with UNAVAILABLE (a Verify fails; it never answers NO_MATCH for a talent enrolled meanwhile or
matches one erased meanwhile). A Verify whose consistency token names a consent revision newer
than the index's last catch-up makes it catch up first.

Deciding only on live templates (`IndexSearcher`): the talents a search hits are checked against
the templates Postgres holds now; a talent whose templates changed since the index loaded them
(an erasure, a retention sweep, a new enrollment not yet followed) is reloaded and the search run
again before anything is decided.
"""

from __future__ import annotations

import asyncio
import collections
from pathlib import Path

import asyncpg
import numpy as np
import structlog

from likeness_common.crypto import Kek
from likeness_common.errors import Unavailable
from likeness_common.freshness import ChangeFollower, Freshness
from likeness_common.templates import open_sealed
from likeness_common.tokens import decode_token

from ..domain.calibration import Bounds, CohortNorm, Stats, cohort_name
from ..domain.model import Modality, Probe, ProbeHit
from .vector_index import Affine, Metric, ModalityIndex

log = structlog.get_logger("likeness.verification.index")

DIMS = {Modality.FACE: 128, Modality.VOICE: 256}
# Outbox event types that change a talent's templates (the `event_type` column: the payload's name).
_CHANGES_TEMPLATES = ["FaceEnrolled", "VoiceEnrolled", "BiometricsErased"]
_OUTBOX_CHANNEL = "likeness_outbox"  # NOTIFYed by every outbox writer (likeness_common.outbox)
# The newest consent revision in the same snapshot: what "the index is at least as fresh as a token" means.
_CONSENT_REVISION = "SELECT coalesce(max(revision), 0) FROM grants"


def load_cohort(path: Path) -> CohortNorm:
    """A voice cohort file (`likeness cohort build`): a .npy (n, 256) float32 array. Named by its
    content hash, which receipts record ("VOICE_COHORT"). A file that is named but missing is a
    misconfiguration: the service refuses to start rather than silently judge raw cosine."""
    if not path.is_file():
        raise FileNotFoundError(f"LIKENESS_VERIFICATION_VOICE_COHORT_FILE={path}: no such file (build one with `likeness cohort build`, "
                                "mount it there, or unset the variable for raw cosine thresholds)")  # fmt: skip
    array = np.load(path, allow_pickle=False)
    if array.ndim != 2 or array.shape[1] != DIMS[Modality.VOICE]:
        raise ValueError(f"{path}: a voice cohort is an (n, {DIMS[Modality.VOICE]}) array, got {array.shape}")
    return CohortNorm(array, cohort_name(array))


class LikenessIndex:
    """Both modalities; scores are "higher is closer" (face: 1 - distance, voice: cosine). Writes go
    through `upsert` and `remove` (one writer at a time, off the loop); `template_ids` says which
    stored templates a talent's rows came from."""

    def __init__(self, models: dict[str, str], ivf_min_rows: int = 200_000, nprobe: dict[Modality, int] | None = None,
                 voice_norm: CohortNorm | None = None, voice_norm_review: float | None = None) -> None:  # fmt: skip
        """`voice_norm`: a speaker's-mean voice probe (not a single window) is scored by its S-norm
        against this cohort (domain.calibration), and hits below `voice_norm_review` are dropped."""
        self.models = models  # modality -> "name/version": only comparable templates are loaded
        if (voice_norm is None) != (voice_norm_review is None):
            raise ValueError("voice normalization needs both a cohort and its review threshold")
        self.voice_norm, self.voice_norm_review = voice_norm, voice_norm_review
        self._voice_stats: dict[str, Stats] = {}
        # The same stats as an array by the voice index's talent code, (a, b) per row (NaN: none),
        # so a search normalizes all its hits at once. Replaced whole when it grows: a search reads
        # it after its rows, and a talent's stats are written before its rows (see replace).
        self._voice_ab = np.full((0, 2), np.nan, np.float64)
        self._voice_bounds = Bounds()
        nprobe = nprobe or {Modality.FACE: 128, Modality.VOICE: 256}
        metrics = {Modality.FACE: Metric.EUCLIDEAN, Modality.VOICE: Metric.COSINE}
        self.by_modality = {
            m: ModalityIndex(DIMS[m], metrics[m], ivf_min_rows=ivf_min_rows, nprobe=nprobe[m]) for m in (Modality.FACE, Modality.VOICE)
        }
        self._template_ids: dict[str, frozenset[str]] = {}
        self._write_lock = asyncio.Lock()

    def replace(self, talent_id: str, vectors: dict[Modality, list[np.ndarray]], template_ids: frozenset[str] = frozenset()) -> None:
        """Synchronous: for the start-up load, before the server takes traffic."""
        # A talent's voice stats exist before its rows do and outlive them, so a search that finds
        # its rows finds its stats (searches read a snapshot of the rows, off this thread).
        voices = vectors.get(Modality.VOICE, [])
        normalized = self.voice_norm is not None and len(voices) > 0
        if normalized:
            stats = self._voice_stats[talent_id] = self.voice_norm.stats(np.stack(voices))
            self._voice_bounds.include(stats)
            self._set_voice_ab(talent_id, (stats.a, stats.b))
        for modality, index in self.by_modality.items():
            index.replace(talent_id, vectors.get(modality, []))
        if not normalized and self._voice_stats.pop(talent_id, None) is not None:
            self._set_voice_ab(talent_id, (np.nan, np.nan))
        if template_ids:
            self._template_ids[talent_id] = template_ids
        else:
            self._template_ids.pop(talent_id, None)

    def _set_voice_ab(self, talent_id: str, ab: tuple[float, float]) -> None:
        code = self.by_modality[Modality.VOICE].code(talent_id)
        table = self._voice_ab
        if code >= len(table):
            table = np.full((max(64, 2 * code + 2), 2), np.nan, np.float64)
            table[: len(self._voice_ab)] = self._voice_ab
        table[code] = ab
        self._voice_ab = table

    async def upsert(self, talent_id: str, vectors: dict[Modality, list[np.ndarray]], template_ids: frozenset[str]) -> None:
        """The talent's templates become exactly these. In a thread (growing or compacting a large
        index copies hundreds of MB; searches meanwhile read their snapshot)."""
        async with self._write_lock:
            await asyncio.to_thread(self.replace, talent_id, vectors, template_ids)

    async def remove(self, talent_id: str) -> None:
        await self.upsert(talent_id, {}, frozenset())

    def template_ids(self, talent_id: str) -> frozenset[str]:
        return self._template_ids.get(talent_id, frozenset())

    def best_scores(self, modality: Modality, vectors: np.ndarray, talent_ids: set[str]) -> dict[str, float]:
        """Each talent's best score against `vectors`, computed directly (no search): for a handful
        of talent, e.g. those changed since a search."""
        index = self.by_modality[modality]
        out: dict[str, float] = {}
        for talent_id in talent_ids:
            theirs = index.vectors_of(talent_id)
            if len(theirs):
                if modality is Modality.FACE:
                    out[talent_id] = float(1.0 - np.linalg.norm(vectors[:, None, :] - theirs[None, :, :], axis=2).min())
                elif self.normalizes(modality):
                    raw = (vectors @ theirs.T).max(axis=1)
                    out[talent_id] = max(self.voice_norm.normalize(float(r), self._voice_stats[talent_id], self.voice_norm.stats(v))
                                         for r, v in zip(raw, vectors, strict=True))  # fmt: skip
                else:
                    out[talent_id] = float((vectors @ theirs.T).max())
        return out

    def normalizes(self, modality: Modality) -> bool:
        """Are this modality's (non-window) scores normalized (and so judged in z units)?"""
        return modality is Modality.VOICE and self.voice_norm is not None

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
            if self.normalizes(modality):
                hits += self._search_normalized(index, [p for p in mine if not p.window])
                mine = [p for p in mine if p.window]  # single windows keep their raw rule
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

    def _search_normalized(self, index: ModalityIndex, probes: list[Probe]) -> list[ProbeHit]:
        """Speakers' means scored by S-norm: the raw search floor is, per probe, the lowest cosine
        at which any indexed talent could reach the review z (calibration.Bounds), so normalization
        never hides a talent that a lower raw score would have shown."""
        if not probes:
            return []
        norm, z_review = self.voice_norm, self.voice_norm_review
        matrix = np.stack([np.asarray(p.vector, np.float32) for p in probes])
        stats = [norm.stats(v) for v in matrix]
        floor = min(self._voice_bounds.floor(z_review, s) for s in stats)
        # CohortNorm.normalize as an affine per talent and probe, applied in the scan; the stats table
        # is read after the rows' snapshot, so it has every talent those rows hold (stats are written
        # before rows). A talent removed since has NaN: dropped.
        affine = Affine(lambda: self._voice_ab, np.asarray([(s.a, s.b) for s in stats], np.float64), z_review, floor)
        p, codes, z, raw = index.search_rescored(matrix, affine)
        return [ProbeHit(probes[i], index.talent_of(int(c)), float(zz), raw_score=float(r)) for i, c, zz, r in zip(p, codes, z, raw, strict=True)]

    async def search(self, probes: list[Probe], floor: dict[Modality, float]) -> list[ProbeHit]:
        return await asyncio.to_thread(self.search_sync, probes, floor)


class TemplateLoader:
    """Reads and decrypts templates from Postgres into the index."""

    def __init__(self, pool: asyncpg.Pool, kek: Kek, index: LikenessIndex) -> None:
        self._pool, self._kek, self._index = pool, kek, index

    def _comparable(self, row: asyncpg.Record) -> bool:
        return self._index.models.get(row["modality"]) == f"{row['model_name']}/{row['model_version']}"

    def _open_into(self, row: asyncpg.Record, dek: bytes, vectors: dict[Modality, list[np.ndarray]], ids: set[str]) -> bool:
        """Decrypt a template row into `vectors` / `ids` when it is comparable; True if it was."""
        if not self._comparable(row):
            return False
        vectors.setdefault(Modality(row["modality"]), []).append(open_sealed(dek, row["sealed"], row["template_id"]))
        ids.add(row["template_id"])
        return True

    async def load_all(self, batch: int = 5000) -> tuple[int, int]:
        """Every talent's sample templates, and in the same snapshot the outbox cursor and consent
        revision the follower starts from. Returns (cursor, consent revision)."""
        for index in self._index.by_modality.values():
            index.begin_bulk()
        try:
            loaded, cursor, revision = await self._load_all(batch)
        finally:  # train the IVF (past ivf_min_rows) once, off the loop
            for index in self._index.by_modality.values():
                await asyncio.to_thread(index.end_bulk)
        log.info("index loaded", templates=loaded, sizes=self._index.sizes(), outbox_cursor=cursor)
        return cursor, revision

    async def _load_all(self, batch: int) -> tuple[int, int, int]:
        loaded = 0
        async with self._pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
            cursor = await conn.fetchval("SELECT coalesce(max(id), 0) FROM outbox")
            revision = await conn.fetchval(_CONSENT_REVISION)
            keys = {r["talent_id"]: r["wrapped_key"] for r in await conn.fetch("SELECT talent_id, wrapped_key FROM talent_data_keys")}
            talent, dek, vectors, ids = None, b"", {}, set()
            rows = conn.cursor(
                "SELECT template_id, talent_id, modality, model_name, model_version, sealed FROM templates "
                "WHERE kind = 'sample' ORDER BY talent_id, template_id",
                prefetch=batch,
            )
            async for row in rows:
                if row["talent_id"] != talent:
                    if talent is not None:
                        self._index.replace(talent, vectors, frozenset(ids))
                    talent, vectors, ids = row["talent_id"], {}, set()
                    wrapped = keys.get(talent)
                    dek = self._kek.unwrap(wrapped, talent.encode()) if wrapped else b""
                if dek and self._open_into(row, dek, vectors, ids):
                    loaded += 1
            if talent is not None:
                self._index.replace(talent, vectors, frozenset(ids))
        return loaded, cursor, revision

    async def reload(self, talent_id: str) -> None:
        """The talent's templates as Postgres holds them now (none: removed from the index)."""
        async with self._pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
            wrapped = await conn.fetchval("SELECT wrapped_key FROM talent_data_keys WHERE talent_id = $1", talent_id)
            rows = await conn.fetch(
                "SELECT template_id, modality, model_name, model_version, sealed FROM templates "
                "WHERE talent_id = $1 AND kind = 'sample' ORDER BY template_id",
                talent_id,
            )
        vectors: dict[Modality, list[np.ndarray]] = {}
        ids: set[str] = set()
        if wrapped is not None:
            dek = self._kek.unwrap(wrapped, talent_id.encode())
            for row in rows:
                self._open_into(row, dek, vectors, ids)
        if ids:
            await self._index.upsert(talent_id, vectors, frozenset(ids))
        else:
            await self._index.remove(talent_id)
        log.info("talent reloaded", talent_id=talent_id, templates={m.value: len(v) for m, v in vectors.items()})

    async def live_template_ids(self, talent_ids: set[str]) -> dict[str, frozenset[str]]:
        """The comparable sample templates each talent has now; a talent whose data key is shredded has none."""
        rows = await self._pool.fetch(
            "SELECT t.talent_id, t.template_id, t.modality, t.model_name, t.model_version FROM templates t "
            "JOIN talent_data_keys k USING (talent_id) WHERE t.talent_id = ANY($1::text[]) AND t.kind = 'sample'",
            list(talent_ids),
        )
        live: dict[str, set[str]] = {}
        for row in rows:
            if self._comparable(row):
                live.setdefault(row["talent_id"], set()).add(row["template_id"])
        return {t: frozenset(ids) for t, ids in live.items()}


class IndexFollower:
    """Keeps the index current from the outbox, in commit order (see the module docstring)."""

    VIEW = "1:N index"

    def __init__(self, pool: asyncpg.Pool, dsn: str, loader: TemplateLoader, poll_seconds: float = 1.0,
                 max_staleness_seconds: float = 5.0) -> None:  # fmt: skip
        self._pool, self._loader = pool, loader
        self.freshness = Freshness(self.VIEW, max_staleness_seconds)
        self._follower = ChangeFollower(dsn, _OUTBOX_CHANNEL, poll_seconds, self.catch_up, self.freshness)
        self.cursor = 0  # the last outbox id applied
        self._changes: collections.deque[tuple[int, str]] = collections.deque(maxlen=100_000)  # (outbox id, talent reloaded)
        self.consent_revision = 0  # the newest consent revision in the snapshot of the last catch-up
        self._lock = asyncio.Lock()

    async def start(self) -> None:
        """Load every template, then follow."""
        started = self.freshness.started()
        self.cursor, self.consent_revision = await self._loader.load_all()
        self.freshness.caught_up(started)
        self._follower.start()

    async def stop(self) -> None:
        await self._follower.stop()

    async def catch_up(self) -> None:
        async with self._lock:
            started = self.freshness.started()
            async with self._pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
                rows = await conn.fetch(
                    "SELECT id, message_key, event_type FROM outbox WHERE id > $1 ORDER BY id", self.cursor
                )
                revision = await conn.fetchval(_CONSENT_REVISION)
            changed = [(r["id"], r["message_key"]) for r in rows if r["event_type"] in _CHANGES_TEMPLATES and r["message_key"]]
            for talent_id in dict.fromkeys(t for _, t in changed):  # reloads are idempotent: a crash here repeats them
                await self._loader.reload(talent_id)
            self._changes.extend(changed)
            if rows:
                self.cursor = rows[-1]["id"]
            self.consent_revision = max(self.consent_revision, revision)
            self.freshness.caught_up(started)

    async def reload(self, talent_id: str) -> None:
        """A reload outside the follow loop (a Verify found the index behind): under the same lock,
        so an older snapshot never overwrites a newer one the loop applied."""
        async with self._lock:
            await self._loader.reload(talent_id)

    def changed_since(self, cursor: int) -> set[str] | None:
        """Talent whose templates changed after outbox id `cursor` (None: that far back is forgotten)."""
        if self._changes and self._changes[0][0] > cursor and len(self._changes) == self._changes.maxlen:
            return None
        return {t for at, t in self._changes if at > cursor}

    async def at_least(self, token: str) -> None:
        """Catch up first when `token` names a consent revision newer than the last catch-up saw;
        then refuse (UNAVAILABLE) if the index is older than its bound."""
        if decode_token(token) > self.consent_revision:
            await asyncio.wait_for(self.catch_up(), self.freshness.bound)
        self.freshness.require()


class IndexSearcher:
    """The Searcher a Verify uses: a fresh-enough index, and hits only on templates that are live."""

    def __init__(self, index: LikenessIndex, follower: IndexFollower, loader: TemplateLoader) -> None:
        self._index, self._follower, self._loader = index, follower, loader

    @property
    def models(self) -> dict[str, str]:
        norm = self._index.voice_norm
        return {"VOICE_COHORT": norm.name} if norm is not None else {}

    async def search(self, probes: list[Probe], floor: dict[Modality, float], at_least_as_fresh: str = "") -> list[ProbeHit]:
        await self._follower.at_least(at_least_as_fresh)
        live: dict[str, frozenset[str]] = {}  # talent -> its templates in Postgres now (checked this call)
        for _ in range(3):
            hits = await self._index.search(probes, floor)
            unchecked = {h.talent_id for h in hits} - live.keys()
            if not unchecked:
                break
            now = await self._loader.live_template_ids(unchecked)
            live.update({t: now.get(t, frozenset()) for t in unchecked})
            changed = sorted(t for t in unchecked if live[t] != self._index.template_ids(t))
            if not changed:
                break
            # erased, swept or re-enrolled since the index loaded them: reload, search again
            log.info("index behind a hit talent's templates; reloading before deciding", talents=len(changed))
            for talent_id in changed:
                await self._follower.reload(talent_id)
        else:  # the third pass reloaded again: its hits are from before that reload
            raise Unavailable("the index kept changing under this search; try again", reason="INDEX_CHANGING")
        return [h for h in hits if live[h.talent_id]]
