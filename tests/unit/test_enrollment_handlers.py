"""Enrollment use cases with fakes: the engine, the templates, the parties. Real media and the
real pipeline are exercised in tests/integration/test_enrollment_media.py."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from enrollment.domain import commands
from enrollment.domain.model import (
    DisputeState,
    EnrollmentState,
    Modality,
    Notice,
    Resolution,
    Sample,
    SampleOutcome,
    Similar,
    pair,
)
from enrollment.service_layer import handlers
from likeness_common.errors import FailedPrecondition, InvalidArgument, PermissionDenied
from likeness_common.principal import Principal, PrincipalKind

TALENT = "tal_01M88J602BD7QVZB8KK88Q3310"
AGENCY = Principal(PrincipalKind.AGENCY, "agc_1")
STRANGER = Principal(PrincipalKind.AGENCY, "agc_2")
NOTICE = Notice("matching generated media", timedelta(days=30), datetime.now(UTC), "v1")
PERSON_A, PERSON_B = np.ones(4, dtype=np.float32), -np.ones(4, dtype=np.float32)


class FakeEngine:
    """Reads the sample bytes as a script: b"A", b"B" (a person), b"none", b"two"."""

    def model(self, modality):
        return ("fake", "1")

    async def analyze(self, modality, samples):
        out = []
        for i, s in enumerate(samples):
            if s.content in (b"A", b"B"):
                out.append(SampleOutcome(i, s.filename, True, quality=0.9, speech_seconds=2.0,
                                         embedding=PERSON_A if s.content == b"A" else PERSON_B))  # fmt: skip
            else:
                out.append(SampleOutcome(i, s.filename, False, "NO_FACE" if s.content == b"none" else "MULTIPLE_FACES", "scripted"))
        return out

    def disagreeing(self, modality, new, existing):
        reference = existing[0] if existing else new[0]
        return [i for i, v in enumerate(new) if not np.array_equal(v, reference)]


class Store:
    def __init__(self):
        self.enrollments, self.templates, self.events, self.idem = {}, [], [], {}
        self.disputes, self.distinct = {}, set()


class FakeLikeness:
    """Scripted 1:N search: `before` answers the search before the commit, `after` the re-check."""

    def __init__(self, before=(), after=None):
        self.before, self.after, self.refreshed = list(before), after, False

    async def similar(self, modality, vectors, exclude_talent):
        return [s for s in self.before if s.talent_id != exclude_talent], 7

    async def similar_since(self, position, modality, vectors, exclude_talent):
        assert position == 7
        self.refreshed = True
        return [s for s in (self.after if self.after is not None else self.before) if s.talent_id != exclude_talent]


class FakeUow:
    def __init__(self, store: Store):
        self.s = store
        outer = self

        class Enrollments:
            async def add(self, e): outer._staged_enrollments[e.enrollment_id] = e  # noqa: E704
            async def get(self, i): return outer._staged_enrollments.get(i)  # noqa: E704
            async def for_talent(self, t, for_update=False): return [e for e in outer._staged_enrollments.values() if e.talent_id == t]  # noqa: E704
            async def lock_likeness_check(self, m): outer.locked.append(m)  # noqa: E301,E704
            async def mark_erased(self, ids, now):  # noqa: E301
                for i in ids:
                    outer._staged_enrollments[i].erased_at = now
            async def expired(self, now, limit): return [e for e in outer._staged_enrollments.values() if e.erased_at is None and e.retain_until <= now]  # noqa: E301,E704
            async def set_state(self, ids, state):  # noqa: E301
                for i in ids:
                    outer._staged_enrollments[i].state = state

        class Templates:
            async def vectors(self, t, m): return [v for (tt, mm, kind, v, _) in outer._staged_templates if tt == t and mm == m and kind == "sample"]  # noqa: E704
            async def add(self, e, vs): outer._staged_templates.extend((e.talent_id, e.modality, "sample", v, e.enrollment_id) for v in vs)  # noqa: E704
            async def replace_centroid(self, t, m, model, v):  # noqa: E301
                outer._staged_templates[:] = [x for x in outer._staged_templates if not (x[0] == t and x[1] == m and x[2] == "centroid")]
                if v is not None:
                    outer._staged_templates.append((t, m, "centroid", v, None))
            async def erase_talent(self, t):  # noqa: E301
                gone = [x for x in outer._staged_templates if x[0] == t]
                outer._staged_templates[:] = [x for x in outer._staged_templates if x[0] != t]
                return sum(x[2] == "sample" for x in gone), sorted({x[1] for x in gone})
            async def erase_enrollments(self, t, ids):  # noqa: E301
                gone = [x for x in outer._staged_templates if x[4] in ids]
                outer._staged_templates[:] = [x for x in outer._staged_templates if x[4] not in ids]
                return len(gone)

        class Parties:
            async def talent_exists(self, t): return t == TALENT  # noqa: E704
            async def represents(self, a, t, now): return a == AGENCY.principal_id and t == TALENT  # noqa: E704

        class Disputes:
            async def add(self, d):  # noqa: E301
                if any(o.state is DisputeState.OPEN and pair(*o.talent_ids) == pair(*d.talent_ids) and o.modality is d.modality
                       for o in outer._staged_disputes.values()):  # fmt: skip
                    return False
                outer._staged_disputes[d.dispute_id] = d
                return True
            async def get(self, i, for_update=False): return outer._staged_disputes.get(i)  # noqa: E301,E704
            async def open_for_talent(self, t, m): return [d for d in outer._staged_disputes.values() if d.state is DisputeState.OPEN and d.modality is m and t in d.talent_ids]  # noqa: E301,E704
            async def save(self, d): outer._staged_disputes[d.dispute_id] = d  # noqa: E301,E704
            async def distinct(self, a, b, m): return (*pair(a, b), m) in outer.s.distinct  # noqa: E301,E704
            async def remember_distinct(self, a, b, m): outer.s.distinct.add((*pair(a, b), m))  # noqa: E301,E704

        class Idem:
            async def recall(self, p, op, r, params): return outer.s.idem.get((p, op, r))  # noqa: E704
            async def remember(self, p, op, r, params, result): outer._staged_idem[(p, op, r)] = result  # noqa: E704

        self.enrollments, self.templates, self.parties, self.idempotency = Enrollments(), Templates(), Parties(), Idem()
        self.disputes = Disputes()

    async def now(self):
        return datetime.now(UTC)

    async def __aenter__(self):
        self._staged_enrollments = copy.copy(self.s.enrollments)
        self._staged_templates = list(self.s.templates)
        self._staged_idem, self._events = {}, []
        self._staged_disputes = copy.copy(self.s.disputes)
        self.locked = []
        return self

    async def __aexit__(self, *exc):
        pass

    def emit(self, e):
        self._events.append(e)

    async def commit(self):
        self.s.enrollments, self.s.templates = self._staged_enrollments, self._staged_templates
        self.s.disputes = self._staged_disputes
        self.s.idem.update(self._staged_idem)
        self.s.events.extend(self._events)


def cmd(*contents: bytes, notice=NOTICE, request_id="", modality=Modality.FACE) -> commands.Enroll:
    return commands.Enroll(request_id, TALENT, modality, notice, tuple(Sample(f"s{i}.jpg", c) for i, c in enumerate(contents)))


async def enroll(store, command, actor=AGENCY, likeness=None):
    enrollment, outcomes, _similar = await handlers.enroll(command, actor, FakeUow(store), FakeEngine(), likeness or FakeLikeness())
    return enrollment, outcomes


async def test_one_bad_sample_of_three_is_reported_not_fatal():
    store = Store()
    enrollment, outcomes = await enroll(store, cmd(b"A", b"none", b"A"))
    assert enrollment.accepted_samples == 2 and enrollment.rejected_samples == 1
    assert [o.rejection for o in outcomes] == ["", "NO_FACE", ""]
    kinds = sorted(x[2] for x in store.templates)
    assert kinds == ["centroid", "sample", "sample"]
    assert [type(e).__name__ for e in store.events] == ["Enrolled"]


async def test_no_usable_sample_fails_with_the_common_reason_and_stores_nothing():
    store = Store()
    with pytest.raises(InvalidArgument) as caught:
        await enroll(store, cmd(b"two"))
    assert caught.value.reason == "MULTIPLE_FACES" and caught.value.violations[0].field == "images[0]"
    assert store.templates == [] and store.events == []


async def test_samples_of_two_people_are_refused_naming_the_odd_ones():
    store = Store()
    with pytest.raises(InvalidArgument) as caught:
        await enroll(store, cmd(b"A", b"A", b"B"))
    assert caught.value.reason == "INCONSISTENT_SAMPLES" and "s2.jpg" in caught.value.message
    await enroll(store, cmd(b"A"))
    with pytest.raises(InvalidArgument) as caught:  # disagrees with the earlier enrollment
        await enroll(store, cmd(b"B"))
    assert caught.value.reason == "INCONSISTENT_SAMPLES"


async def test_notice_is_required_and_only_mandated_agencies_enroll():
    with pytest.raises(FailedPrecondition) as caught:
        await enroll(Store(), cmd(b"A", notice=None))
    assert caught.value.reason == "NOTICE_REQUIRED"
    with pytest.raises(PermissionDenied):
        await enroll(Store(), cmd(b"A"), actor=STRANGER)
    with pytest.raises(InvalidArgument):
        await enroll(Store(), cmd(b"A", notice=Notice("x", timedelta(0), datetime.now(UTC), "v1")))


async def test_voice_needs_three_seconds_of_speech_in_total():
    with pytest.raises(InvalidArgument) as caught:
        await enroll(Store(), cmd(b"A", modality=Modality.VOICE))  # 2 s
    assert caught.value.reason == "TOO_LITTLE_SPEECH"
    enrollment, _ = await enroll(Store(), cmd(b"A", b"A", modality=Modality.VOICE))  # 4 s
    assert enrollment.accepted_samples == 2


async def test_request_id_replays_the_first_result():
    store = Store()
    first, _ = await enroll(store, cmd(b"A", request_id="r1"))
    again, outcomes = await enroll(store, cmd(b"A", request_id="r1"))
    assert again.enrollment_id == first.enrollment_id and len(store.events) == 1 and outcomes[0].accepted


async def test_erase_and_retention_sweep():
    store = Store()
    await enroll(store, cmd(b"A", b"A"))
    erased, _ = await handlers.erase(commands.Erase("", TALENT, "talent asked"), AGENCY, FakeUow(store))
    assert erased == 2 and store.templates == []
    assert type(store.events[-1]).__name__ == "BiometricsErased"
    short = Notice("x", timedelta(microseconds=1), datetime.now(UTC), "v1")
    await enroll(store, cmd(b"A", notice=short))
    assert await handlers.sweep_retention(FakeUow(store), {m: ("fake", "1") for m in Modality}) == 1
    assert store.templates == []


OTHER = "tal_01M88J602BD7QVZB8KK88Q3399"
OPERATOR = Principal(PrincipalKind.OPERATOR, "op_1")
MODELS = {m: ("fake", "1") for m in Modality}


async def test_a_match_with_another_talent_opens_a_dispute_and_holds_the_enrollment():
    store = Store()
    enrollment, _ = await enroll(store, cmd(b"A"), likeness=FakeLikeness([Similar(OTHER, 0.62, True)]))
    assert enrollment.state is EnrollmentState.DISPUTED
    [dispute] = store.disputes.values()
    assert (dispute.talent_id, dispute.existing_talent_id, dispute.state) == (TALENT, OTHER, DisputeState.OPEN)
    opened = [e for e in store.events if type(e).__name__ == "DisputeOpened"]
    assert sorted(e.key for e in opened) == sorted([TALENT, OTHER])  # one event per talent involved


async def test_review_band_similarity_is_a_warning_not_a_dispute():
    store = Store()
    likeness = FakeLikeness([Similar(OTHER, 0.45, False)])
    enrollment, _, similar = await handlers.enroll(cmd(b"A"), AGENCY, FakeUow(store), FakeEngine(), likeness)
    assert enrollment.state is EnrollmentState.ACTIVE and not store.disputes
    assert [s.talent_id for s in similar] == [OTHER]


async def test_the_recheck_after_commit_catches_a_concurrent_enrollment():
    """Nothing similar before the commit; the re-check on a refreshed index finds the other talent."""
    store = Store()
    likeness = FakeLikeness([], after=[Similar(OTHER, 0.7, True)])
    enrollment, _ = await enroll(store, cmd(b"A"), likeness=likeness)
    assert likeness.refreshed
    assert store.enrollments[enrollment.enrollment_id].state is EnrollmentState.DISPUTED
    assert len(store.disputes) == 1


async def test_a_pair_resolved_as_distinct_people_does_not_reopen():
    store = Store()
    await enroll(store, cmd(b"A"), likeness=FakeLikeness([Similar(OTHER, 0.62, True)]))
    [dispute] = store.disputes.values()
    resolved = await handlers.resolve_dispute(commands.ResolveDispute("", dispute.dispute_id, Resolution.DISTINCT_PEOPLE, "twins"),
                                              OPERATOR, FakeUow(store), MODELS)  # fmt: skip
    assert resolved.state is DisputeState.RESOLVED
    assert store.enrollments[dispute.enrollment_id].state is EnrollmentState.ACTIVE
    again, _ = await enroll(store, cmd(b"A"), likeness=FakeLikeness([Similar(OTHER, 0.62, True)]))
    assert again.state is EnrollmentState.ACTIVE and len(store.disputes) == 1


async def test_keep_existing_rejects_the_held_enrollment_and_only_operators_resolve():
    store = Store()
    await enroll(store, cmd(b"A"), likeness=FakeLikeness([Similar(OTHER, 0.62, True)]))
    [dispute] = store.disputes.values()
    keep = commands.ResolveDispute("", dispute.dispute_id, Resolution.SAME_PERSON_KEEP_EXISTING, "")
    with pytest.raises(PermissionDenied):
        await handlers.resolve_dispute(keep, AGENCY, FakeUow(store), MODELS)
    await handlers.resolve_dispute(keep, OPERATOR, FakeUow(store), MODELS)
    held = store.enrollments[dispute.enrollment_id]
    assert held.state is EnrollmentState.REJECTED and held.erased_at is not None
    assert not [x for x in store.templates if x[0] == TALENT and x[2] == "sample"]
    assert [type(e).__name__ for e in store.events][-3:] == ["BiometricsErased", "DisputeResolved", "DisputeResolved"]
    with pytest.raises(FailedPrecondition):
        await handlers.resolve_dispute(commands.ResolveDispute("", dispute.dispute_id, Resolution.DISTINCT_PEOPLE, ""),
                                       OPERATOR, FakeUow(store), MODELS)  # fmt: skip


async def test_a_second_enrollment_of_a_disputed_pair_is_held_too_and_keep_existing_rejects_both():
    store = Store()
    first, _ = await enroll(store, cmd(b"A"), likeness=FakeLikeness([Similar(OTHER, 0.62, True)]))
    second, _ = await enroll(store, cmd(b"A"), likeness=FakeLikeness([Similar(OTHER, 0.64, True)]))
    assert second.state is EnrollmentState.DISPUTED and len(store.disputes) == 1  # held under the pair's open dispute
    [dispute] = store.disputes.values()
    await handlers.resolve_dispute(commands.ResolveDispute("", dispute.dispute_id, Resolution.SAME_PERSON_KEEP_EXISTING, ""),
                                   OPERATOR, FakeUow(store), MODELS)  # fmt: skip
    assert {store.enrollments[e].state for e in (first.enrollment_id, second.enrollment_id)} == {EnrollmentState.REJECTED}
    assert not [x for x in store.templates if x[0] == TALENT and x[2] == "sample"]


async def test_distinct_people_releases_every_held_enrollment_of_the_talent():
    store = Store()
    first, _ = await enroll(store, cmd(b"A"), likeness=FakeLikeness([Similar(OTHER, 0.62, True)]))
    second, _ = await enroll(store, cmd(b"A"), likeness=FakeLikeness([Similar(OTHER, 0.64, True)]))
    [dispute] = store.disputes.values()
    await handlers.resolve_dispute(commands.ResolveDispute("", dispute.dispute_id, Resolution.DISTINCT_PEOPLE, ""),
                                   OPERATOR, FakeUow(store), MODELS)  # fmt: skip
    assert {store.enrollments[e].state for e in (first.enrollment_id, second.enrollment_id)} == {EnrollmentState.ACTIVE}


async def test_erasing_one_side_withdraws_its_disputes_and_releases_the_other():
    """The existing talent is erased while a newcomer is held against it: nothing is left to
    dispute, so the dispute ends WITHDRAWN and the held enrollment becomes ACTIVE."""
    store = Store()
    held, _ = await enroll(store, cmd(b"A"), likeness=FakeLikeness([Similar(OTHER, 0.62, True)]))
    [dispute] = store.disputes.values()
    # The held talent erases its own biometrics: withdrawn (its REVIEW hold on the other side ends).
    await handlers.erase(commands.Erase("", TALENT, "changed my mind"), AGENCY, FakeUow(store))
    assert store.disputes[dispute.dispute_id].resolution is Resolution.WITHDRAWN
    assert [type(e).__name__ for e in store.events].count("DisputeResolved") == 2
    store2 = Store()
    held, _ = await enroll(store2, cmd(b"A"), likeness=FakeLikeness([Similar(OTHER, 0.62, True)]))
    [dispute] = store2.disputes.values()
    uow = FakeUow(store2)
    async with uow:
        await handlers._withdraw_orphaned(uow, OTHER, Modality.FACE, datetime.now(UTC), "system")  # OTHER has no enrollment here
        await uow.commit()
    assert store2.disputes[dispute.dispute_id].state is DisputeState.RESOLVED
    assert store2.enrollments[held.enrollment_id].state is EnrollmentState.ACTIVE


async def test_an_operator_cannot_choose_withdrawn():
    store = Store()
    await enroll(store, cmd(b"A"), likeness=FakeLikeness([Similar(OTHER, 0.62, True)]))
    [dispute] = store.disputes.values()
    with pytest.raises(InvalidArgument):
        await handlers.resolve_dispute(commands.ResolveDispute("", dispute.dispute_id, Resolution.WITHDRAWN, ""),
                                       OPERATOR, FakeUow(store), MODELS)  # fmt: skip


async def test_the_dispute_check_raises_its_levels_with_the_population_as_verify_does():
    """Among 2,000 face templates a face at dlib distance 0.47 from a talent no longer names them
    as the same person (a match at the 100-template reference), only as review evidence."""
    import numpy as np

    from enrollment.adapters.likeness import IndexLikenessSearch
    from enrollment.domain.model import Modality as EnrollmentModality
    from verification.adapters.index import LikenessIndex
    from verification.domain.calibration import ImpostorTail, PopulationRule
    from verification.domain.model import Modality, Thresholds

    class Follower:  # always fresh, no change history
        cursor = 0

        async def at_least(self, token: str) -> None:
            pass

    rng = np.random.default_rng(4)
    index = LikenessIndex({})
    for t in range(500):  # strangers, far from the probe
        index.replace(f"tal_{t}", {Modality.FACE: list(rng.normal(0, 0.3, (4, 128)).astype(np.float32))})
    known = rng.normal(0, 0.1, 128).astype(np.float32)
    index.replace("tal_known", {Modality.FACE: [known]})
    probe = known + 0.47 * np.eye(128, dtype=np.float32)[0]  # dlib distance 0.47 (a match up to 100 templates; 0.455 at 2,001)
    rule = PopulationRule(100, ImpostorTail(0.16, 0.075), ImpostorTail(0.58, 0.076), ImpostorTail(0.0, 1.0))
    fixed = IndexLikenessSearch(index, Follower(), Thresholds())
    raised = IndexLikenessSearch(index, Follower(), Thresholds(), rule)
    [same], _ = await fixed.similar(EnrollmentModality.FACE, [probe], exclude_talent="tal_new")
    assert (same.talent_id, same.match) == ("tal_known", True)
    [near], _ = await raised.similar(EnrollmentModality.FACE, [probe], exclude_talent="tal_new")
    assert (near.talent_id, near.match) == ("tal_known", False)
