"""One contract for the 1:N index's two engines (issue 16), run against both: `embedded`
(vector_index.ModalityIndex, each replica's memory) and `qdrant` (qdrant_index.QdrantModalityIndex
through qdrant-client's local mode: the cluster adapter's own code path, every call it makes to a
server, answered by the client's in-process implementation). Plus the keyed rotation the cluster
engine stores templates under."""

from __future__ import annotations

import numpy as np
import pytest
from qdrant_client import QdrantClient

from likeness_common.errors import Unavailable
from tests.unit.test_verification_domain import brute_force
from verification.adapters.index import DIMS, METRICS, LikenessIndex
from verification.adapters.qdrant_index import KeyedRotation, QdrantModalityIndex, point_id
from verification.adapters.vector_index import Metric
from verification.domain.calibration import CohortNorm
from verification.domain.model import Location, Modality, Probe

KEY = bytes(range(32))
# qdrant-client's local mode says on every search that it is a brute force (which is what a test wants)
pytestmark = pytest.mark.filterwarnings("ignore:Local mode performs exact:UserWarning")
ENGINES = ["embedded", "qdrant", "qdrant-int8"]


def qdrant_engines(client: QdrantClient, key: bytes = KEY, prefix: str = "t", int8: bool = False) -> dict[Modality, QdrantModalityIndex]:
    engines = {}
    for m in Modality:
        engine = QdrantModalityIndex(client, f"{prefix}_{m.value.lower()}", m.value, DIMS[m], METRICS[m], KeyedRotation(key, m.value, DIMS[m]),
                                     model=f"{m.value.lower()}-model/1")  # fmt: skip
        engine.ensure_collection(int8=int8)
        engines[m] = engine
    return engines


def new_index(kind: str, **kwargs) -> LikenessIndex:
    engines = qdrant_engines(QdrantClient(":memory:"), int8=kind == "qdrant-int8") if kind.startswith("qdrant") else None
    return LikenessIndex({}, engines=engines, **kwargs)


def put(index: LikenessIndex, talent: str, vectors: dict[Modality, np.ndarray], tag: str = "") -> None:
    """A talent's templates, each with a template id (as the loader gives them)."""
    ids = {m: [f"{talent}-{m.value.lower()}{tag}-{i}" for i in range(len(v))] for m, v in vectors.items()}
    index.replace(talent, {m: list(v) for m, v in vectors.items()}, ids)


def normed(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def probes_of(modality: Modality, vectors: np.ndarray, window: bool = False) -> list[Probe]:
    return [Probe(modality, Location(), v, window=window) for v in vectors]


@pytest.mark.parametrize("kind", ENGINES)
@pytest.mark.parametrize("modality", list(Modality))
def test_search_equals_brute_force_through_enrolments_re_enrolments_and_erasures(kind, modality):
    rng = np.random.default_rng(16)
    index = new_index(kind)
    metric, dim = METRICS[modality], DIMS[modality]
    centre = rng.normal(0, 0.1, dim)

    def vectors(n: int) -> np.ndarray:
        v = (centre + rng.normal(0, 0.035 if metric is Metric.EUCLIDEAN else 0.03, (n, dim))).astype(np.float32)
        return normed(v) if metric is Metric.COSINE else v

    truth = {f"t{t}": vectors(int(rng.integers(1, 5))) for t in range(40)}
    for talent, v in truth.items():
        put(index, talent, {modality: v})
    for t in range(0, 40, 5):  # erased
        index.replace(f"t{t}", {})
        del truth[f"t{t}"]
    for t in range(1, 40, 7):  # re-enrolled: old templates must no longer match
        truth[f"t{t}"] = vectors(2)
        put(index, f"t{t}", {modality: truth[f"t{t}"]}, tag="r")
    probes = vectors(6)
    floor = 0.35 if metric is Metric.EUCLIDEAN else 0.9  # (a score: 1 - distance for faces)
    bound = 1.0 - floor if metric is Metric.EUCLIDEAN else floor
    ps = probes_of(modality, probes)
    position = {id(p): i for i, p in enumerate(ps)}
    found = {(position[id(h.probe)], h.talent_id): h.score for h in index.search_sync(ps, {modality: floor})}
    want = {k: 1.0 - v if metric is Metric.EUCLIDEAN else v for k, v in brute_force(truth, probes, metric, bound).items()}  # as scores
    assert len(want) > 20  # the data puts many talents within the bound
    assert found.keys() == want.keys()
    assert all(found[k] == pytest.approx(v, abs=1e-5) for k, v in want.items())
    assert index.sizes()[modality.value] == sum(len(v) for v in truth.values())
    assert index.template_ids(["t1", "t5", "nobody"]) == {"t1": frozenset({"t1-" + modality.value.lower() + "r-0", "t1-" + modality.value.lower() + "r-1"}),
                                                          "t5": frozenset(), "nobody": frozenset()}  # fmt: skip
    assert index.contains("t2", modality) and not index.contains("t5", modality)


@pytest.mark.parametrize("kind", ENGINES)
def test_best_scores_of_a_few_talent_equal_what_the_search_finds(kind):
    """The enrollment re-check scores only the talent changed since its search; it must agree with
    a search of the whole index."""
    rng = np.random.default_rng(3)
    index = new_index(kind)
    for t in range(40):
        put(index, f"t{t}", {Modality.FACE: rng.normal(0, 0.1, (3, 128)).astype(np.float32), Modality.VOICE: normed(rng.normal(0, 1, (2, 256)))})
    for modality, floor in ((Modality.FACE, -50.0), (Modality.VOICE, -1.0)):
        probes = rng.normal(0, 0.1, (4, 128)).astype(np.float32) if modality is Modality.FACE else normed(rng.normal(0, 1, (4, 256)))
        found = index.search_sync(probes_of(modality, probes), {Modality.FACE: floor, Modality.VOICE: floor})
        expected: dict[str, float] = {}
        for h in found:
            expected[h.talent_id] = max(expected.get(h.talent_id, -99.0), h.score)
        few = {"t3", "t17", "t39", "nobody"}
        scores = index.best_scores(modality, probes, few)
        assert set(scores) == few - {"nobody"}
        assert all(abs(scores[t] - expected[t]) < 1e-5 for t in scores), (scores, {t: expected[t] for t in scores})
    assert index.by_modality[Modality.FACE].vectors_of("nobody").shape == (0, 128)


@pytest.mark.parametrize("kind", ["embedded-exact", "embedded-ivf", "qdrant"])
def test_a_normalized_search_finds_every_talent_a_brute_force_normalization_finds(kind):
    """Planted matches: talents near the probes (some in crowded regions of the space, some alone),
    the cohort random. The exact scan normalizes every row; the IVF and Qdrant propose candidates at
    the raw floor calibration.Bounds gives. Either way every talent whose exact normalized score
    reaches the review z must be returned with that score, and none below it. A floor above the
    lowest raw score any talent needs would miss some."""
    rng = np.random.default_rng(18)
    centre = normed(rng.normal(0, 1, (1, 256)))[0]
    cohort = normed(centre + rng.normal(0, 0.08, (200, 256)))  # strangers who all sound a bit alike
    norm = CohortNorm(cohort, "test")
    z_review = 3.2
    if kind == "qdrant":
        index = new_index("qdrant", voice_norm=norm, voice_norm_review=z_review)
    else:
        index = LikenessIndex({}, ivf_min_rows=500 if kind == "embedded-ivf" else 200_000, voice_norm=norm, voice_norm_review=z_review)
    talents = {}
    for t in range(300):
        spread = 0.02 + 0.1 * (t % 7)  # from crowded (near the cohort's centre) to alone
        talents[f"t{t}"] = normed(centre + rng.normal(0, spread, (3, 256)))
        put(index, f"t{t}", {Modality.VOICE: talents[f"t{t}"]})
    probes = probes_of(Modality.VOICE, normed(centre + rng.normal(0, 0.06, (40, 256))))
    found = {(id(h.probe), h.talent_id): h for h in index.search_sync(probes, {Modality.VOICE: 0.99, Modality.FACE: 0.5})}
    expected = {}
    for p in probes:
        ps = norm.stats(p.vector)
        for t, vectors in talents.items():
            z = norm.normalize(float((vectors @ p.vector).max()), norm.stats(vectors), ps)
            if z >= z_review:
                expected[(id(p), t)] = z
    assert len(expected) > 50  # the plant worked: many talents reach the band
    assert index.by_modality[Modality.VOICE].approximate == (kind != "embedded-exact")
    assert set(found) == set(expected)
    assert all(found[k].score == pytest.approx(z, abs=1e-4) and found[k].raw_score is not None for k, z in expected.items())
    # (the raw floor passed in, 0.99, would have found almost none of them)
    assert sum(1 for k in expected if found[k].raw_score < 0.99) > 40
    # A removed talent's rows and stats go together: it is never found again, the others still are.
    gone = set(sorted({t for (_, t) in expected})[:5])
    for t in gone:
        index.replace(t, {})
    again = {(id(h.probe), h.talent_id) for h in index.search_sync(probes, {Modality.VOICE: 0.99, Modality.FACE: 0.5})}
    assert again == {k for k in expected if k[1] not in gone}


def test_qdrant_pages_past_a_full_page_and_refuses_a_capped_one():
    """Many templates within the bound of one probe: every talent is returned (pages doubled),
    and past `max_candidates` the search is refused rather than answered from a truncated list."""
    rng = np.random.default_rng(7)
    index = new_index("qdrant")
    centre = normed(rng.normal(0, 1, (1, 256)))[0]
    for t in range(150):  # 150 talents x 2 templates, all close to the probe: more than the first page of 64
        put(index, f"t{t}", {Modality.VOICE: normed(centre + rng.normal(0, 0.01, (2, 256)))})
    hits = index.search_sync(probes_of(Modality.VOICE, centre[None, :], window=True), {Modality.VOICE: 0.9})
    assert {h.talent_id for h in hits} == {f"t{t}" for t in range(150)}
    index.by_modality[Modality.VOICE].max_candidates = 128
    with pytest.raises(Unavailable) as capped:
        index.search_sync(probes_of(Modality.VOICE, centre[None, :], window=True), {Modality.VOICE: 0.9})
    assert capped.value.reason == "INDEX_CANDIDATES_CAPPED"


def test_a_qdrant_replace_keeps_the_talent_visible_and_leaves_only_its_new_templates():
    client = QdrantClient(":memory:")
    engine = qdrant_engines(client)[Modality.FACE]
    rng = np.random.default_rng(1)
    old, new = rng.normal(0, 0.1, (3, 128)).astype(np.float32), rng.normal(0, 0.1, (2, 128)).astype(np.float32)
    engine.replace("tal_1", list(old), ["tpl_a", "tpl_b", "tpl_c"])
    engine.replace("tal_1", [old[0], new[0], new[1]], ["tpl_a", "tpl_d", "tpl_e"])  # one kept, two new, two gone
    assert engine.template_ids(["tal_1"]) == {"tal_1": frozenset({"tpl_a", "tpl_d", "tpl_e"})}
    stored = {p.id for p in client.scroll(engine.collection, limit=100)[0]}
    assert stored == {point_id(t) for t in ("tpl_a", "tpl_d", "tpl_e")}  # ids from template ids: idempotent writes
    np.testing.assert_allclose(engine.vectors_of("tal_1"), np.stack([old[0], new[0], new[1]]), atol=1e-5)  # un-rotated
    with pytest.raises(ValueError, match="template ids"):
        engine.replace("tal_2", list(old))  # a cluster write without template ids is refused
    engine.replace("tal_1", [])
    assert engine.templates == 0 and not engine.has("tal_1")


# --- the keyed rotation --------------------------------------------------------------------------

PINNED_FACE_ROW = -0.352731  # sum of the first 4 entries of the FACE rotation of KEY, as derived on 2026-12-01


def test_the_rotation_preserves_distances_and_is_fixed_by_its_key():
    rng = np.random.default_rng(5)
    for modality, dim in (("FACE", 128), ("VOICE", 256)):
        r = KeyedRotation(KEY, modality, dim)
        np.testing.assert_allclose(r.matrix @ r.matrix.T, np.eye(dim), atol=1e-10)
        x = rng.normal(0, 0.1, (50, dim)).astype(np.float32)
        y = r.apply(x)
        before = np.linalg.norm(x[:, None] - x[None], axis=2)
        after = np.linalg.norm(y[:, None] - y[None], axis=2)
        assert np.abs(before - after).max() < 1e-5
        np.testing.assert_allclose(x @ x.T, y @ y.T, atol=1e-5)
        np.testing.assert_allclose(r.invert(y), x, atol=1e-5)
        assert np.array_equal(KeyedRotation(KEY, modality, dim).matrix, r.matrix)  # every replica derives the same
        assert np.abs(KeyedRotation(b"another key" * 3, modality, dim).matrix - r.matrix).max() > 0.1
    # Pinned: a numpy or cryptography upgrade that changed the derivation would silently make every
    # stored vector unsearchable; this fails first.
    assert round(float(KeyedRotation(KEY, "FACE", 128).matrix[0, :4].sum()), 6) == pytest.approx(PINNED_FACE_ROW, abs=1e-6)
    assert KeyedRotation(KEY, "FACE", 128).matrix[0, 0] != KeyedRotation(KEY, "VOICE", 128).matrix[0, 0]  # per modality


def test_vectors_read_back_from_qdrants_storage_are_not_the_templates():
    """What someone holding only Qdrant's storage gets: vectors that, compared as dlib or
    Resemblyzer templates, match no enrolled talent, not even at the review floor, while the
    service's own search (rotating the probe) finds every one."""
    rng = np.random.default_rng(9)
    client = QdrantClient(":memory:")
    index = LikenessIndex({}, engines=qdrant_engines(client))
    plain = LikenessIndex({})  # the same templates, unrotated
    faces = {f"t{t}": rng.normal(0, 0.1, (3, 128)).astype(np.float32) for t in range(30)}
    voices = {f"t{t}": normed(rng.normal(0, 1, (3, 256))) for t in range(30)}
    for t in faces:
        put(index, t, {Modality.FACE: faces[t], Modality.VOICE: voices[t]})
        put(plain, t, {Modality.FACE: faces[t], Modality.VOICE: voices[t]})
    floors = {Modality.FACE: 0.48, Modality.VOICE: 0.75}  # the deployed review floors (Thresholds())
    for modality, engine in index.by_modality.items():
        stored = np.asarray([p.vector for p in client.scroll(engine.collection, limit=1000, with_vectors=True)[0]], np.float32)
        assert len(stored) == 90
        assert index.search_sync(probes_of(modality, stored), floors) == []  # nor, fed back as probes, through the service
        leaked = plain.search_sync(probes_of(modality, stored), floors)
        assert leaked == [], f"{len(leaked)} stored {modality.value} vectors match an enrolled talent as templates"
        mine = faces if modality is Modality.FACE else voices
        own = index.search_sync(probes_of(modality, np.stack([v[0] for v in mine.values()])), floors)
        assert {h.talent_id for h in own} >= set(mine)
