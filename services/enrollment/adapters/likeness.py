"""The duplicate-likeness search at enrollment: the same 1:N index and thresholds as Verify.

The enrollment service keeps its own replica of the verification service's index (LikenessIndex,
loaded from Postgres at start and following enrollment changes in commit order, fail-closed past
its staleness bound: `verification.adapters.index`), and judges scores with Verify's `Thresholds`.
One code path for "does this face or voice belong to someone enrolled", two processes running it;
no internal RPC that would make the verification service a search oracle for anyone holding a key.
The index and thresholds live in the verification package today; issue 17 moves the engine to a
shared library.
"""

from __future__ import annotations

import asyncio

import numpy as np

from verification.adapters.index import IndexFollower, LikenessIndex
from verification.adapters.index_cluster import ClusterFollower
from verification.domain.calibration import PopulationRule
from verification.domain.model import Location, Probe, Thresholds
from verification.domain.model import Modality as IndexModality

from ..domain.model import Modality, Similar


class IndexLikenessSearch:
    def __init__(self, index: LikenessIndex, follower: IndexFollower | ClusterFollower, thresholds: Thresholds,
                 population_rule: PopulationRule | None = None) -> None:  # fmt: skip
        """`population_rule`: the thresholds are raised for the number of templates indexed, as
        Verify raises them (calibration.PopulationRule): a dispute means what a match means."""
        self._index, self._follower, self._thresholds, self._rule = index, follower, thresholds, population_rule

    async def _levels(self) -> Thresholds:
        if self._rule is None:
            return self._thresholds
        return self._thresholds.for_population(await asyncio.to_thread(self._index.population), self._rule)

    async def similar(self, modality: Modality, vectors: list[np.ndarray], exclude_talent: str) -> tuple[list[Similar], int]:
        await self._follower.at_least("")  # UNAVAILABLE from a stale index: never a silent "no one else"
        position = self._follower.cursor  # the index holds every change up to here
        m = IndexModality(modality.value)
        levels = await self._levels()
        review = levels.review(m)  # (the raw floor; a normalized voice search floors at levels.voice_norm_review)
        probes = [Probe(m, Location(), np.asarray(v, np.float32)) for v in vectors]
        best: dict[str, float] = {}
        for hit in await self._index.search(probes, {m: review}, levels.voice_norm_review):
            if hit.talent_id != exclude_talent:
                best[hit.talent_id] = max(best.get(hit.talent_id, -1.0), hit.score)
        return self._judged(m, best, levels), position

    async def similar_since(self, position: int, modality: Modality, vectors: list[np.ndarray], exclude_talent: str) -> list[Similar]:
        """The re-check after a commit: catch up, then score only the talent whose templates changed
        after `position` (an enrollment that committed meanwhile), not the whole index again."""
        await self._follower.catch_up()
        changed = self._follower.changed_since(position)
        if changed is None:  # the change history does not reach back that far: search everything
            return (await self.similar(modality, vectors, exclude_talent))[0]
        m = IndexModality(modality.value)
        scores = self._index.best_scores(m, np.asarray(vectors, np.float32), changed - {exclude_talent})
        return self._judged(m, scores, await self._levels())

    def _judged(self, m: IndexModality, best: dict[str, float], levels: Thresholds) -> list[Similar]:
        """Scores are normalized where the index normalizes them (a voice cohort): judged in those units."""
        normalized = self._index.normalizes(m)
        review, match = levels.review(m, normalized=normalized), levels.match(m, normalized=normalized)
        return sorted((Similar(t, round(s, 4), s >= match) for t, s in best.items() if s >= review), key=lambda s: (-s.score, s.talent_id))
