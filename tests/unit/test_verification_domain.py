"""The verification domain without I/O: the 1:N index against brute force, the decision table,
the receipt payload round trip."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from likeness_common.documents import RECEIPT_TYPE, canonical_json
from verification.adapters.vector_index import Metric, ModalityIndex
from verification.domain.calibration import ImpostorTail, PopulationRule
from verification.domain.model import (
    ConsentVerdict,
    Coverage,
    Decision,
    Location,
    Match,
    Modality,
    Probe,
    ProbeHit,
    ReviewReason,
    Thresholds,
    VerificationRecord,
    best_matches,
    decide,
    record_from_receipt,
    with_impostors,
)


def brute_force(talent_vectors: dict[str, np.ndarray], probes: np.ndarray, metric: Metric, bound: float) -> dict[tuple[int, str], float]:
    out = {}
    for talent, vectors in talent_vectors.items():
        for p, probe in enumerate(probes):
            if metric is Metric.EUCLIDEAN:
                value = float(np.linalg.norm(vectors - probe, axis=1).min())
                if value <= bound:
                    out[(p, talent)] = value
            else:
                value = float((vectors @ probe).max())
                if value >= bound:
                    out[(p, talent)] = value
    return out


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), talents=st.integers(1, 30), block=st.sampled_from([3, 7, 64, 65_536]),
       removed=st.integers(0, 10), metric=st.sampled_from(list(Metric)))  # fmt: skip
def test_index_search_equals_brute_force_after_adds_replaces_and_removes(seed, talents, block, removed, metric):
    rng = np.random.default_rng(seed)
    dim = 8
    index = ModalityIndex(dim, metric, capacity=4, block_rows=block)
    truth: dict[str, np.ndarray] = {}
    for t in range(talents):
        vectors = rng.normal(size=(int(rng.integers(1, 5)), dim)).astype(np.float32)
        if metric is Metric.COSINE:
            vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        truth[f"t{t}"] = vectors
        index.replace(f"t{t}", list(vectors))
    for t in rng.choice(talents, size=min(removed, talents), replace=False):
        if rng.random() < 0.5:
            index.remove(f"t{t}")
            del truth[f"t{t}"]
        else:  # re-enrolled: the old templates must no longer match
            vectors = rng.normal(size=(2, dim)).astype(np.float32)
            if metric is Metric.COSINE:
                vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
            truth[f"t{t}"] = vectors
            index.replace(f"t{t}", list(vectors))
    probes = rng.normal(size=(5, dim)).astype(np.float32)
    if metric is Metric.COSINE:
        probes /= np.linalg.norm(probes, axis=1, keepdims=True)
    bound = 3.5 if metric is Metric.EUCLIDEAN else 0.3
    got = {(h.probe, h.talent_id): h.value for h in index.search(probes, bound)}
    want = brute_force(truth, probes, metric, bound)
    assert got.keys() == want.keys()
    for key, value in want.items():
        assert got[key] == pytest.approx(value, abs=1e-4)
    assert index.talent_count == len(truth) and index.templates == sum(len(v) for v in truth.values())


def test_compaction_keeps_every_live_template():
    index = ModalityIndex(4, Metric.COSINE, capacity=8)
    unit = np.eye(4, dtype=np.float32)
    for t in range(3000):
        index.replace(f"t{t}", [unit[t % 4]])
    for t in range(0, 3000, 2):
        index.remove(f"t{t}")  # > 25% dead: the index compacts
    hits = index.search(unit[1:2], bound=0.99)
    assert {h.talent_id for h in hits} == {f"t{t}" for t in range(1, 3000, 2) if t % 4 == 1}
    assert index.templates == 1500


def _unit(rng: np.random.Generator, rows: int, dim: int) -> np.ndarray:
    v = rng.normal(size=(rows, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


@settings(max_examples=12, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), metric=st.sampled_from(list(Metric)), churn=st.integers(0, 150))
def test_ivf_probing_every_cell_equals_brute_force_through_adds_removes_retrains_and_compaction(seed, metric, churn):
    """With nprobe >= nlist the IVF is exhaustive, so any difference from brute force is a bug in the
    id mapping, the snapshot filtering, the radius slack or the exact re-scoring, not in recall."""
    rng = np.random.default_rng(seed)
    dim, bound = 8, (0.9 if metric is Metric.EUCLIDEAN else 0.6)
    index = ModalityIndex(dim, metric, capacity=16, ivf_min_rows=300, nprobe=10_000)
    truth: dict[str, np.ndarray] = {}
    for t in range(100):  # 300 rows: the IVF is trained on the last add
        truth[f"t{t}"] = _unit(rng, 3, dim)
        index.replace(f"t{t}", list(truth[f"t{t}"]))
    assert index.approximate
    for step in range(churn):  # adds into the trained IVF, re-enrollments, erasures; past 2x rows it retrains
        t = f"t{int(rng.integers(0, 250))}"
        if rng.random() < 0.3 and t in truth:
            index.remove(t)
            del truth[t]
        else:
            truth[t] = _unit(rng, int(rng.integers(1, 5)), dim)
            index.replace(t, list(truth[t]))
    if churn % 3 == 0:
        index._compact()  # noqa: SLF001 - row numbers change: a new IVF
    probes = np.concatenate([_unit(rng, 4, dim), next(iter(truth.values()))[:1] + 0.05 * _unit(rng, 1, dim)])
    got = {(h.probe, h.talent_id): h.value for h in index.search(probes, bound)}
    want = brute_force(truth, probes, metric, bound)
    assert got.keys() == want.keys()
    for key, value in want.items():
        assert got[key] == pytest.approx(value, abs=1e-4)
    exact = {(h.probe, h.talent_id): h.value for h in index.search(probes, bound, exact=True)}
    assert exact.keys() == got.keys() and all(exact[k] == pytest.approx(v, abs=1e-4) for k, v in got.items())


@pytest.mark.parametrize("metric", list(Metric))
def test_the_float16_ivf_loses_no_row_at_the_bound_however_long_the_rows(metric):
    """The IVF keeps its rows as float16 (each component up to 2^-11 of itself off): with rows 40
    long a value moves by up to ~0.02, far past the 1e-3 kept for faiss's float order. With every
    cell probed only that rounding could lose a row: rows planted just inside the bound are all
    found, and the exact re-score reports none of those planted just outside."""
    rng = np.random.default_rng(11)
    dim, length = 8, 40.0
    euclidean = metric is Metric.EUCLIDEAN
    direction = _unit(rng, 1, dim)[0]
    probe = length * direction if euclidean else direction  # an inner product grows with the row alone
    bound = 0.9 if euclidean else 0.5

    def planted(value: float) -> np.ndarray:
        """A row about 40 long at exactly `value` (a distance or an inner product) from the probe."""
        side = _unit(rng, 1, dim)[0]
        side -= (side @ direction) * direction
        side /= np.linalg.norm(side)
        return probe + value * side if euclidean else value * direction + length * side

    index = ModalityIndex(dim, metric, ivf_min_rows=300, nprobe=10_000)
    inside = rng.uniform(1e-4, 2e-3, 120)
    for t, d in enumerate(inside):
        index.replace(f"in{t}", [planted(bound - d if euclidean else bound + d)])
    for t, d in enumerate(inside):
        index.replace(f"out{t}", [planted(bound + d if euclidean else bound - d)])
    for t in range(100):
        index.replace(f"far{t}", [planted(bound + 3 if euclidean else bound - 3)])
    assert index.approximate
    found = {h.talent_id for h in index.search(probe[None, :], bound)}
    assert found == {f"in{t}" for t in range(len(inside))}


def test_a_failed_ivf_build_leaves_the_index_as_it_was(monkeypatch):
    from verification.adapters import vector_index as index_module

    rng = np.random.default_rng(5)
    index = ModalityIndex(8, Metric.COSINE, ivf_min_rows=100)
    truth = {f"t{t}": _unit(rng, 2, 8) for t in range(49)}  # 98 rows: the next add trains the IVF
    for talent, vectors in truth.items():
        index.replace(talent, list(vectors))

    def refuse(*args, **kwargs):
        raise RuntimeError("faiss refused")

    monkeypatch.setattr(index_module._Ivf, "trained", refuse)
    with pytest.raises(RuntimeError):
        index.replace("late", list(_unit(rng, 3, 8)))
    assert not index.has("late") and not index.approximate and index.templates == 98
    probes = _unit(rng, 4, 8)
    got = {(h.probe, h.talent_id): h.value for h in index.search(probes, 0.3)}
    want = brute_force(truth, probes, Metric.COSINE, 0.3)
    assert got.keys() == want.keys()
    monkeypatch.undo()
    index.replace("late", list(_unit(rng, 3, 8)))  # the rows it had written are reused
    assert index.has("late") and index.approximate and index.templates == 101


def test_bulk_load_stays_exact_and_trains_the_ivf_once_at_the_end():
    rng = np.random.default_rng(3)
    index = ModalityIndex(8, Metric.EUCLIDEAN, ivf_min_rows=100, nprobe=10_000)
    truth = {f"t{t}": _unit(rng, 2, 8) for t in range(200)}
    index.begin_bulk()
    for talent, vectors in truth.items():
        index.replace(talent, list(vectors))
        assert not index.approximate  # no training on the way up
    index.end_bulk()
    assert index.approximate
    probes = _unit(rng, 6, 8)
    got = {(h.probe, h.talent_id): h.value for h in index.search(probes, 0.9)}
    want = brute_force(truth, probes, Metric.EUCLIDEAN, 0.9)
    assert got.keys() == want.keys() and all(got[k] == pytest.approx(v, abs=1e-4) for k, v in want.items())


@pytest.mark.parametrize("metric", list(Metric))
def test_ivf_finds_planted_matches_and_reports_only_exact_values_within_the_bound(metric):
    rng = np.random.default_rng(7)
    dim, noise, bound = 32, 0.3, (0.6 if metric is Metric.EUCLIDEAN else 0.75)
    data = _unit(rng, 20_000, dim)
    index = ModalityIndex(dim, metric, ivf_min_rows=10_000, nprobe=64)
    for t in range(len(data) // 4):
        index.replace(f"t{t}", list(data[4 * t : 4 * t + 4]))
    assert index.approximate
    rows = rng.integers(0, len(data), 200)
    probes = data[rows] + noise * _unit(rng, len(rows), dim)
    if metric is Metric.COSINE:
        probes /= np.linalg.norm(probes, axis=1, keepdims=True)
    approx = {(h.probe, h.talent_id): h.value for h in index.search(probes, bound)}
    exact = {(h.probe, h.talent_id): h.value for h in index.search(probes, bound, exact=True)}
    # Candidates are re-scored exactly: no hit outside the bound, no value other than the exact one.
    assert approx.keys() <= exact.keys() and all(exact[k] == pytest.approx(v, abs=1e-5) for k, v in approx.items())
    found = sum((p, f"t{r // 4}") in approx for p, r in enumerate(rows))
    assert found / len(rows) >= 0.97, found


def test_dimension_mismatch_is_refused():
    with pytest.raises(ValueError, match="128-d"):
        ModalityIndex(128, Metric.EUCLIDEAN).replace("t", [np.zeros(64, np.float32)])


T = Thresholds(face_match=0.5, face_review=0.4, voice_match=0.84, voice_review=0.75)


def hit(talent: str, modality: Modality, score: float, start: float = 0.0) -> ProbeHit:
    return ProbeHit(Probe(modality, Location(start, start), np.zeros(1)), talent, score)


def test_best_matches_keeps_the_best_evidence_per_talent_and_modality_and_drops_weak_ones():
    matches = best_matches([hit("a", Modality.FACE, 0.55, 1), hit("a", Modality.FACE, 0.7, 2), hit("a", Modality.VOICE, 0.8),
                            hit("b", Modality.FACE, 0.39), hit("c", Modality.VOICE, 0.74)], T)  # fmt: skip
    assert [(m.talent_id, m.modality, m.score, m.in_review_band, m.location.start_s) for m in matches] == [
        ("a", Modality.FACE, 0.7, False, 2), ("a", Modality.VOICE, 0.8, True, 0)]  # fmt: skip


def m(talent: str, review: bool = False, modality: Modality = Modality.FACE) -> Match:
    return Match(talent, modality, 0.45 if review else 0.7, Location(), review)


YES = ConsentVerdict(True, ("grt_1",), conditions=(("disclosure_label", "AI"),))
NO = ConsentVerdict(False, (), "NO_GRANT")


@pytest.mark.parametrize(
    ("matches", "verdicts", "decision"),
    [
        ([], {}, Decision.NO_MATCH),
        ([m("a")], {"a": YES}, Decision.ALLOW),
        ([m("a")], {"a": NO}, Decision.DENY),
        ([m("a"), m("b")], {"a": YES, "b": NO}, Decision.DENY),
        ([m("a", review=True)], {"a": NO}, Decision.REVIEW),
        ([m("a", review=True)], {"a": YES}, Decision.ALLOW),
        ([m("a"), m("b", review=True)], {"a": YES, "b": NO}, Decision.REVIEW),
        ([m("a"), m("b", review=True)], {"a": NO, "b": NO}, Decision.DENY),
    ],
)
def test_decision_table(matches, verdicts, decision):
    outcome = decide(matches, {(x.talent_id, x.modality): verdicts[x.talent_id] for x in matches}, COMPLETE, T)
    assert outcome.decision is decision
    assert outcome.review_reasons == ((ReviewReason.REVIEW_BAND,) if decision is Decision.REVIEW else ())
    for match in outcome.matches:
        assert bool(match.grant_id) == verdicts[match.talent_id].allowed
        assert (match.denial == "NO_GRANT") == (not verdicts[match.talent_id].allowed)
    assert outcome.grant_ids == (["grt_1"] if any(v.allowed for v in verdicts.values()) else [])


COMPLETE = Coverage(media_seconds=10.0, sample_fps=1.0, frames_in_clip=250, frames_sampled=11, frames_analyzed=8,
                    frames_skipped_unchanged=3, skip_rule="rule", max_gap_s=1.0, max_gap_allowed_s=1.0, max_analyzed_gap_s=3.0,
                    audio_track=True, audio_seconds=10.0, speech_seconds=6.5, voice_windows=4, speech_snr_db=25.0,
                    speech_high_band_share=0.02)  # fmt: skip


@pytest.mark.parametrize(
    "gap, reason",
    [
        ({"decode_errors": ("video: InvalidDataError at 4.00 s",)}, "DECODE_ERRORS"),
        ({"max_gap_s": 1.5}, "GAP_OVER_MAXIMUM"),
        ({"frames_analyzed": 7}, "SAMPLES_UNACCOUNTED"),
        ({"video_truncated": True}, "VIDEO_TRUNCATED"),
        ({"audio_truncated": True}, "AUDIO_TRUNCATED"),
        ({"cuts_unsampled": 2}, "CUTS_UNSAMPLED"),
    ],
)
def test_incomplete_coverage_never_allows_nor_clears(gap, reason):
    """What was not seen may hold anyone: ALLOW and NO_MATCH become REVIEW (INCOMPLETE_COVERAGE);
    a DENY from what was seen stands."""
    partial = replace(COMPLETE, **gap)
    assert not partial.complete and partial.incomplete_reasons == (reason,)
    cases = [([m("a")], {"a": YES}, Decision.ALLOW), ([], {}, Decision.NO_MATCH), ([m("a", review=True)], {"a": NO}, Decision.REVIEW),
             ([m("a")], {"a": NO}, Decision.DENY)]  # fmt: skip
    for matches, verdicts, seen in cases:
        v = {(x.talent_id, x.modality): verdicts[x.talent_id] for x in matches}
        assert decide(matches, v, COMPLETE, T).decision is seen
        outcome = decide(matches, v, partial, T)
        if seen is Decision.DENY:
            assert outcome.decision is Decision.DENY and outcome.review_reasons == ()
        else:
            assert outcome.decision is Decision.REVIEW and ReviewReason.INCOMPLETE_COVERAGE in outcome.review_reasons


@pytest.mark.parametrize("degraded", [{"speech_high_band_share": 0.0}, {"speech_snr_db": 8.0}], ids=["telephone-band", "noisy"])
def test_speech_too_degraded_to_judge_is_review_never_allow_or_no_match(degraded):
    """bench/robustness: telephone-band or 10 dB-SNR speech of enrolled readers mostly falls under
    the review band: a clip with such speech cannot be signed ALLOW or NO_MATCH."""
    poor = replace(COMPLETE, **degraded)
    assert T.poor_audio(poor) and not T.poor_audio(COMPLETE)
    assert not T.poor_audio(replace(poor, speech_seconds=0.5))  # too little speech to matter
    for matches, verdicts, seen in [([m("a")], {"a": YES}, Decision.ALLOW), ([], {}, Decision.NO_MATCH), ([m("a")], {"a": NO}, Decision.DENY)]:
        outcome = decide(matches, {(x.talent_id, x.modality): verdicts[x.talent_id] for x in matches}, poor, T)
        if seen is Decision.DENY:
            assert outcome.decision is Decision.DENY
        else:
            assert outcome.decision is Decision.REVIEW and outcome.review_reasons == (ReviewReason.POOR_AUDIO,)


def test_speech_too_short_to_judge_is_review_never_allow_or_no_match():
    """Under a second of speech the voice model cannot say whose voice it is (SHORT_SPEECH); no
    speech at all is simply no voice (NO_MATCH stands)."""
    short = replace(COMPLETE, speech_seconds=0.6)
    silent = replace(COMPLETE, speech_seconds=0.0, voice_windows=0)
    assert T.short_speech(short) and not T.short_speech(COMPLETE) and not T.short_speech(silent)
    assert not T.short_speech(replace(short, audio_track=False)) and not T.short_speech(replace(short, voice_windows=0))  # blips in hiss
    assert decide([], {}, short, T).review_reasons == (ReviewReason.SHORT_SPEECH,)
    assert decide([m("a")], {("a", Modality.FACE): YES}, short, T).decision is Decision.REVIEW
    assert decide([m("a")], {("a", Modality.FACE): NO}, short, T).decision is Decision.DENY  # what was seen still denies
    assert decide([], {}, silent, T).decision is Decision.NO_MATCH


def test_a_voice_probe_over_too_little_speech_is_review_evidence_at_most():
    """Duration rule: a speaker's mean needs 2 s of speech and a window 1 s to confirm a match; under
    that, the same score is REVIEW evidence (the talent is named, the clip is not signed ALLOW)."""
    def hit(speech_s: float | None, window: bool = False, score: float = 0.95) -> ProbeHit:
        return ProbeHit(Probe(Modality.VOICE, Location(0, 3), np.zeros(1), window=window, speech_s=speech_s), "a", score)

    assert [x.in_review_band for x in best_matches([hit(2.5)], T)] == [False]
    assert [(x.in_review_band, x.speech_s) for x in best_matches([hit(1.5)], T)] == [(True, 1.5)]
    assert [x.in_review_band for x in best_matches([hit(1.2, window=True)], T)] == [False]
    assert [x.in_review_band for x in best_matches([hit(0.8, window=True)], T)] == [True]
    assert [x.in_review_band for x in best_matches([hit(None)], T)] == [False]  # not measured (enrollment samples)
    assert best_matches([hit(1.5, score=0.70)], T) == []  # under the review band whatever its length
    face = ProbeHit(Probe(Modality.FACE, Location(), np.zeros(1), speech_s=None), "a", 0.9)
    assert best_matches([face], T)[0].in_review_band is False
    # The short mean in the band and a long enough window above the match: the window confirms.
    both = best_matches([hit(1.5), hit(1.5, window=True, score=0.9)], T)
    assert [(x.in_review_band, x.score) for x in both] == [(False, 0.9)]


def test_a_still_image_and_an_audio_clip_have_no_video_gap_rule():
    assert Coverage(frames_in_clip=1, frames_sampled=1, frames_analyzed=1).complete
    assert Coverage(audio_track=True, audio_seconds=8.0, speech_seconds=7.0, voice_windows=4).complete


def test_a_speech_window_has_its_own_thresholds():
    t = replace(T, voice_window_match=0.9, voice_window_review=0.8)
    window = ProbeHit(Probe(Modality.VOICE, Location(3, 5), np.zeros(1), window=True), "a", 0.86)
    mean = ProbeHit(Probe(Modality.VOICE, Location(0, 9), np.zeros(1)), "a", 0.85)
    assert [(x.score, x.in_review_band) for x in best_matches([window], t)] == [(0.86, True)]
    assert [(x.score, x.in_review_band) for x in best_matches([window, mean], t)] == [(0.85, False)]  # a confirmed match first
    assert best_matches([replace(window, score=0.79)], t) == []


def test_receipt_payload_round_trips_and_has_no_floats():
    record = VerificationRecord(
        verification_id="ver_1", receipt_id="rcp_1", request_id="r", platform_id="plt_1", media_sha256="ab" * 32,
        media_type="video/mp4", media_bytes=1234, frames=7, purpose="ADVERTISING", custom_purpose="", territory="US",
        decision=Decision.DENY,
        matches=[Match("tal_1", Modality.FACE, 0.6123, Location(2.0, 2.0, 48, (1, 20, 30, 4)), False, "", "NO_GRANT"),
                 Match("tal_2", Modality.VOICE, 0.9, Location(0.5, 3.25), False, "grt_9", "", "dsp_1")],
        grant_ids=["grt_9"], conditions=[("disclosure_label", "AI")], models={"FACE": "dlib/1", "VOICE": "ge2e/1"},
        thresholds=T, consistency_token="ct1.9", decided_at=datetime(2026, 11, 25, 12, 0, tzinfo=UTC),
        coverage=replace(COMPLETE, decode_errors=("audio: x",)), review_reasons=(ReviewReason.INCOMPLETE_COVERAGE,),
    )  # fmt: skip
    payload = record.receipt_payload("sk_1")
    assert payload["version"] == RECEIPT_TYPE and payload["key_id"] == "sk_1" and payload["schema"] == 9
    assert [m["dispute_id"] for m in payload["matches"]] == ["", "dsp_1"]
    assert payload["coverage"]["complete"] is False and payload["coverage"]["incomplete_reasons"] == ["DECODE_ERRORS"]
    assert payload["review_reasons"] == ["INCOMPLETE_COVERAGE"]
    assert canonical_json(payload).count(b'"version"') == 1
    assert not any(isinstance(v, float) for v in _leaves(payload))
    assert record_from_receipt(payload) == record


def test_a_schema_1_receipt_still_reads():
    """Receipts signed before coverage was recorded have no schema, coverage or review_reasons keys."""
    v1 = {"version": RECEIPT_TYPE, "key_id": "sk_1", "receipt_id": "rcp_1", "verification_id": "ver_1", "request_id": "r",
          "issued_at": "2026-11-25T12:00:00.000000Z", "platform_id": "plt_1",
          "media": {"sha256": "ab" * 32, "type": "image/jpeg", "bytes": 10, "frames": 1},
          "use": {"purpose": "ADVERTISING", "custom_purpose": "", "territory": "US"}, "decision": "ALLOW", "matches": [],
          "grant_ids": [], "conditions": [], "models": {}, "consistency_token": "",
          "thresholds": {"face_match": "0.5000", "face_review": "0.4000", "voice_match": "0.8400", "voice_review": "0.7500"}}  # fmt: skip
    record = record_from_receipt(v1)
    assert record.schema == 1 and record.coverage is None and record.review_reasons == ()
    assert "coverage" not in record.receipt_payload("sk_1")


def test_a_schema_2_receipt_round_trips_without_dispute_ids():
    """Receipts signed before disputes: their matches have no dispute_id key, and re-serializing
    them gives the same bytes (the offline verifier compares them)."""
    record = VerificationRecord(
        verification_id="ver_1", receipt_id="rcp_1", request_id="r", platform_id="plt_1", media_sha256="ab" * 32,
        media_type="image/jpeg", media_bytes=10, frames=1, purpose="ADVERTISING", custom_purpose="", territory="US",
        decision=Decision.ALLOW, matches=[Match("tal_2", Modality.FACE, 0.9, Location(), False, "grt_9", "")],
        grant_ids=["grt_9"], conditions=[], models={}, thresholds=T, consistency_token="",
        decided_at=datetime(2026, 11, 25, 12, 0, tzinfo=UTC), coverage=COMPLETE, schema=2,
    )  # fmt: skip
    payload = record.receipt_payload("sk_1")
    assert "dispute_id" not in payload["matches"][0]
    assert record_from_receipt(payload).receipt_payload("sk_1") == payload


def test_an_open_likeness_dispute_turns_allow_into_review_naming_it():
    """Two talent records claim one face (consent laundering): whose consent counts is not settled."""
    m = Match("tal_fake", Modality.FACE, 0.7, Location(), False)
    allowed = {("tal_fake", Modality.FACE): ConsentVerdict(True, ("grt_1",))}
    out = decide([m], allowed, COMPLETE, T, {("tal_fake", Modality.FACE): "dsp_1"})
    assert out.decision is Decision.REVIEW and out.review_reasons == (ReviewReason.LIKENESS_DISPUTE,)
    assert [x.dispute_id for x in out.matches] == ["dsp_1"]
    assert decide([m], allowed, COMPLETE, T, {("tal_fake", Modality.VOICE): "dsp_1"}).decision is Decision.ALLOW  # other modality
    denied = {("tal_fake", Modality.FACE): ConsentVerdict(False, (), "NO_GRANT")}
    assert decide([m], denied, COMPLETE, T, {("tal_fake", Modality.FACE): "dsp_1"}).decision is Decision.DENY  # a DENY stands


def test_each_match_says_whether_its_talent_is_identity_verified_and_a_strict_deployment_reviews_the_rest():
    """An ALLOW resting on an unverified talent's grant: fine by default (the match says so), REVIEW
    where the deployment requires identity-verified talent. A DENY stands either way."""
    seen = [Match("tal_a", Modality.FACE, 0.7, Location(), False), Match("tal_b", Modality.VOICE, 0.9, Location(), False)]
    allowed = {("tal_a", Modality.FACE): ConsentVerdict(True, ("grt_a",)), ("tal_b", Modality.VOICE): ConsentVerdict(True, ("grt_b",))}
    out = decide(seen, allowed, COMPLETE, T, identity_verified={"tal_a"})
    assert out.decision is Decision.ALLOW
    assert [(m.talent_id, m.talent_identity_verified) for m in out.matches] == [("tal_a", True), ("tal_b", False)]
    strict = decide(seen, allowed, COMPLETE, T, identity_verified={"tal_a"}, require_identity_verified=True)
    assert strict.decision is Decision.REVIEW and strict.review_reasons == (ReviewReason.TALENT_IDENTITY_NOT_VERIFIED,)
    assert decide(seen, allowed, COMPLETE, T, identity_verified={"tal_a", "tal_b"}, require_identity_verified=True).decision is Decision.ALLOW
    denied = {**allowed, ("tal_b", Modality.VOICE): ConsentVerdict(False, (), "NO_GRANT")}
    assert decide(seen, denied, COMPLETE, T, require_identity_verified=True).decision is Decision.DENY


def test_a_schema_4_receipt_carries_identity_and_policy_and_round_trips():
    record = VerificationRecord(
        verification_id="ver_1", receipt_id="rcp_1", request_id="r", platform_id="plt_1", media_sha256="ab" * 32,
        media_type="image/jpeg", media_bytes=10, frames=1, purpose="ADVERTISING", custom_purpose="", territory="US",
        decision=Decision.REVIEW, matches=[Match("tal_2", Modality.FACE, 0.9, Location(), False, "grt_9", "", "", False)],
        grant_ids=["grt_9"], conditions=[], models={}, thresholds=T, consistency_token="",
        decided_at=datetime(2026, 11, 30, 12, 0, tzinfo=UTC), coverage=COMPLETE,
        review_reasons=(ReviewReason.TALENT_IDENTITY_NOT_VERIFIED,), require_identity_verified=True,
    )  # fmt: skip
    payload = record.receipt_payload("sk_1")
    assert payload["schema"] == 9 and payload["policy"] == {"require_identity_verified": True}
    assert payload["matches"][0]["talent_identity_verified"] is False
    assert record_from_receipt(payload).receipt_payload("sk_1") == payload
    old = replace(record, schema=3)  # a schema-3 receipt has neither key, and re-serializes to the same bytes
    assert "policy" not in old.receipt_payload("sk_1") and "talent_identity_verified" not in old.receipt_payload("sk_1")["matches"][0]
    assert record_from_receipt(old.receipt_payload("sk_1")).receipt_payload("sk_1") == old.receipt_payload("sk_1")


def test_a_schema_6_receipt_carries_speech_seconds_and_the_duration_rule_and_older_ones_round_trip():
    record = VerificationRecord(
        verification_id="ver_1", receipt_id="rcp_1", request_id="r", platform_id="plt_1", media_sha256="ab" * 32,
        media_type="audio/flac", media_bytes=10, frames=0, purpose="ADVERTISING", custom_purpose="", territory="US",
        decision=Decision.REVIEW, matches=[Match("tal_2", Modality.VOICE, 0.91, Location(0, 2), True, "grt_9", speech_s=1.5)],
        grant_ids=["grt_9"], conditions=[], models={}, thresholds=T, consistency_token="",
        decided_at=datetime(2026, 12, 1, 12, 0, tzinfo=UTC), coverage=COMPLETE, review_reasons=(ReviewReason.REVIEW_BAND,),
    )  # fmt: skip
    payload = record.receipt_payload("sk_1")
    assert payload["schema"] == 9 and payload["matches"][0]["speech_s"] == "1.500"
    assert payload["thresholds"]["voice_mean_confirm_speech_s"] == "2.0000" and payload["thresholds"]["voice_window_confirm_speech_s"] == "1.0000"
    assert record_from_receipt(payload).receipt_payload("sk_1") == payload
    old = replace(record, schema=5).receipt_payload("sk_1")  # signed before the duration rule: neither key
    assert "speech_s" not in old["matches"][0] and "voice_mean_confirm_speech_s" not in old["thresholds"]
    assert record_from_receipt(old).receipt_payload("sk_1") == old


def test_a_schema_7_receipt_records_the_clips_own_manifest_and_older_ones_round_trip():
    from verification.domain.model import IncomingProvenance

    seen = IncomingProvenance("Valid", ("signingCredential.untrusted",), "Gen Inc / gen", "some-generator",
                              ("http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia",), ("cawg.ai_training=notAllowed",))  # fmt: skip
    record = VerificationRecord(
        verification_id="ver_1", receipt_id="rcp_1", request_id="r", platform_id="plt_1", media_sha256="ab" * 32,
        media_type="image/jpeg", media_bytes=10, frames=1, purpose="ADVERTISING", custom_purpose="", territory="US",
        decision=Decision.NO_MATCH, matches=[], grant_ids=[], conditions=[], models={}, thresholds=T, consistency_token="",
        decided_at=datetime(2026, 12, 1, 12, 0, tzinfo=UTC), coverage=COMPLETE, provenance=seen,
    )  # fmt: skip
    payload = record.receipt_payload("sk_1")
    assert payload["schema"] == 9 and payload["incoming_provenance"]["state"] == "Valid"
    assert payload["incoming_provenance"]["training_mining"] == ["cawg.ai_training=notAllowed"]
    assert record_from_receipt(payload) == record and record_from_receipt(payload).receipt_payload("sk_1") == payload
    assert "incoming_provenance" not in replace(record, provenance=None).receipt_payload("sk_1")  # none: no key
    old = replace(record, schema=6).receipt_payload("sk_1")  # signed before it: no key, same bytes again
    assert "incoming_provenance" not in old and record_from_receipt(old).receipt_payload("sk_1") == old


def _leaves(value):
    if isinstance(value, dict):
        for v in value.values():
            yield from _leaves(v)
    elif isinstance(value, list):
        for v in value:
            yield from _leaves(v)
    else:
        yield value


# --- voice score normalization (issue 18) --------------------------------------------------------


def test_normalize_and_raw_needed_are_inverses_and_a_crowded_voice_needs_more():
    from verification.domain.calibration import CohortNorm, Stats

    crowded, alone, probe = Stats(0.6, 0.05), Stats(0.3, 0.05), Stats(0.45, 0.06)
    for talent in (crowded, alone):
        raw = CohortNorm.raw_needed(3.9, talent, probe)
        assert CohortNorm.normalize(raw, talent, probe) == pytest.approx(3.9)
    assert CohortNorm.raw_needed(3.9, crowded, probe) > CohortNorm.raw_needed(3.9, alone, probe)


def test_a_normalized_mean_is_judged_in_z_units_and_a_window_by_its_raw_pair():
    t = replace(T, voice_norm_match=3.9, voice_norm_review=3.2)
    mean = Probe(Modality.VOICE, Location(0, 9), np.zeros(1))
    window = Probe(Modality.VOICE, Location(3, 5), np.zeros(1), window=True)
    confirmed = best_matches([ProbeHit(mean, "a", 4.2, raw_score=0.80)], t)
    assert [(m.score, m.in_review_band, m.raw_score) for m in confirmed] == [(4.2, False, 0.8)]
    assert best_matches([ProbeHit(mean, "a", 3.5, raw_score=0.79)], t)[0].in_review_band
    assert best_matches([ProbeHit(mean, "a", 3.1, raw_score=0.78)], t) == []
    assert best_matches([ProbeHit(window, "a", 0.86)], t)[0].in_review_band is False  # raw 0.85 for a window
    # A confirmed window and a normalized mean in the band: the confirmed evidence decides.
    both = best_matches([ProbeHit(window, "a", 0.86), ProbeHit(mean, "a", 3.5, raw_score=0.79)], t)
    assert both[0].in_review_band is False and both[0].raw_score is None


def test_a_schema_5_receipt_keeps_the_raw_score_and_the_normalized_thresholds():
    t = replace(T, voice_norm_match=3.9, voice_norm_review=3.2)
    record = VerificationRecord(
        verification_id="ver_1", receipt_id="rcp_1", request_id="r", platform_id="plt_1", media_sha256="ab" * 32,
        media_type="audio/flac", media_bytes=10, frames=0, purpose="ADVERTISING", custom_purpose="", territory="US",
        decision=Decision.ALLOW, matches=[Match("tal_2", Modality.VOICE, 4.4321, Location(0, 9), False, "grt_9", raw_score=0.8123)],
        grant_ids=["grt_9"], conditions=[], models={"VOICE": "ge2e/1", "VOICE_COHORT": "sha256:00"}, thresholds=t,
        consistency_token="", decided_at=datetime(2026, 11, 30, 12, 0, tzinfo=UTC), coverage=COMPLETE,
    )  # fmt: skip
    payload = record.receipt_payload("sk_1")
    assert payload["schema"] == 9 and payload["matches"][0]["raw_score"] == "0.8123" and payload["matches"][0]["score"] == "4.4321"
    assert payload["thresholds"]["voice_norm_match"] == "3.9000"
    assert record_from_receipt(payload).receipt_payload("sk_1") == payload
    assert "voice_norm_match" not in replace(record, thresholds=T).receipt_payload("sk_1")["thresholds"]  # off: not written


# --- thresholds that follow the population (issue 18) -------------------------------------------

RULE = PopulationRule(100, ImpostorTail(0.16, 0.075), ImpostorTail(0.58, 0.076), ImpostorTail(0.0, 1.0))


@pytest.mark.parametrize("tail", [RULE.face, RULE.voice, RULE.voice_norm])
def test_a_raised_level_keeps_the_expected_strangers_per_probe_of_the_reference(tail):
    level = tail.mean + 3.0 * tail.sd
    assert RULE.raised(level, tail, 50) == level and RULE.raised(level, tail, 100) == level  # up to the reference: as configured
    previous = level
    for templates in (1_000, 10_000, 1_000_000, 100_000_000):
        raised = RULE.raised(level, tail, templates)
        assert raised > previous  # more templates, a higher bar
        expected = RULE.expected_impostors(raised, tail, templates)
        assert expected == pytest.approx(RULE.expected_impostors(level, tail, 100), rel=1e-6)  # the same meaning
        previous = raised
    assert tail.score_at(tail.p(level)) == pytest.approx(level)


def test_thresholds_for_a_large_population_turn_a_reference_match_into_review_evidence():
    t = replace(T, voice_norm_match=4.1, voice_norm_review=2.4)
    assert t.for_population({Modality.FACE: 40, Modality.VOICE: 12}, RULE) == replace(
        t, population_face=40, population_voice=12, population_reference=100)  # fmt: skip
    big = t.for_population({Modality.FACE: 1_000_000, Modality.VOICE: 1_000_000}, RULE)
    for name in ("face_match", "face_review", "voice_match", "voice_review", "voice_window_match", "voice_window_review",
                 "voice_norm_match", "voice_norm_review"):  # fmt: skip
        assert getattr(big, name) > getattr(t, name), name
    face = Probe(Modality.FACE, Location(), np.zeros(1))
    hit = ProbeHit(face, "tal_a", 0.56)  # a match at the reference (0.50): dlib distance 0.44
    assert best_matches([hit], t)[0].in_review_band is False
    assert best_matches([hit], big)[0].in_review_band is True  # among 1M faces, 0.44 is no longer enough to name someone
    assert best_matches([ProbeHit(face, "tal_a", 0.45)], big) == []  # and 0.55 is not even evidence
    [m] = with_impostors(best_matches([hit], big), big, RULE)
    assert m.impostors == pytest.approx(1_000_000 * RULE.face.p(0.56))


def test_a_schema_9_receipt_carries_the_population_and_each_matchs_expected_impostors_and_older_ones_round_trip():
    t = T.for_population({Modality.FACE: 1234, Modality.VOICE: 56}, RULE)
    match = Match("tal_2", Modality.FACE, 0.6321, Location(0, 0, 0), False, "grt_9", impostors=1234 * RULE.face.p(0.6321))
    record = VerificationRecord(
        verification_id="ver_1", receipt_id="rcp_1", request_id="r", platform_id="plt_1", media_sha256="ab" * 32,
        media_type="image/jpeg", media_bytes=10, frames=1, purpose="ADVERTISING", custom_purpose="", territory="US",
        decision=Decision.ALLOW, matches=[match], grant_ids=["grt_9"], conditions=[], models={"FACE": "dlib/1"}, thresholds=t,
        consistency_token="", decided_at=datetime(2026, 12, 1, 12, 0, tzinfo=UTC), coverage=COMPLETE,
    )  # fmt: skip
    payload = record.receipt_payload("sk_1")
    assert payload["schema"] == 9
    assert {k: payload["thresholds"][k] for k in ("population_face", "population_voice", "population_reference")} == {
        "population_face": "1234", "population_voice": "56", "population_reference": "100"}  # fmt: skip
    assert float(payload["thresholds"]["face_match"]) > 0.5  # raised: 1234 templates is past the reference
    assert payload["matches"][0]["impostors"] == f"{match.impostors:.3e}"
    assert record_from_receipt(payload).receipt_payload("sk_1") == payload
    older = replace(record, schema=8).receipt_payload("sk_1")
    assert "population_face" not in older["thresholds"] and "impostors" not in older["matches"][0]
    assert record_from_receipt(older).receipt_payload("sk_1") == older
