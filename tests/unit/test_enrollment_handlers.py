"""Enrollment use cases with fakes: the engine, the templates, the parties. Real media and the
real pipeline are exercised in tests/integration/test_enrollment_media.py."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from enrollment.domain import commands
from enrollment.domain.model import Modality, Notice, Sample, SampleOutcome
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


class FakeUow:
    def __init__(self, store: Store):
        self.s = store
        outer = self

        class Enrollments:
            async def add(self, e): outer._staged_enrollments[e.enrollment_id] = e  # noqa: E704
            async def get(self, i): return outer._staged_enrollments.get(i)  # noqa: E704
            async def for_talent(self, t): return [e for e in outer._staged_enrollments.values() if e.talent_id == t]  # noqa: E704
            async def mark_erased(self, ids, now):  # noqa: E301
                for i in ids:
                    outer._staged_enrollments[i].erased_at = now
            async def expired(self, now, limit): return [e for e in outer._staged_enrollments.values() if e.erased_at is None and e.retain_until <= now]  # noqa: E301,E704

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

        class Idem:
            async def recall(self, p, op, r, params): return outer.s.idem.get((p, op, r))  # noqa: E704
            async def remember(self, p, op, r, params, result): outer._staged_idem[(p, op, r)] = result  # noqa: E704

        self.enrollments, self.templates, self.parties, self.idempotency = Enrollments(), Templates(), Parties(), Idem()

    async def __aenter__(self):
        self._staged_enrollments = copy.copy(self.s.enrollments)
        self._staged_templates = list(self.s.templates)
        self._staged_idem, self._events = {}, []
        return self

    async def __aexit__(self, *exc):
        pass

    def emit(self, e):
        self._events.append(e)

    async def commit(self):
        self.s.enrollments, self.s.templates = self._staged_enrollments, self._staged_templates
        self.s.idem.update(self._staged_idem)
        self.s.events.extend(self._events)


def cmd(*contents: bytes, notice=NOTICE, request_id="", modality=Modality.FACE) -> commands.Enroll:
    return commands.Enroll(request_id, TALENT, modality, notice, tuple(Sample(f"s{i}.jpg", c) for i, c in enumerate(contents)))


async def enroll(store, command, actor=AGENCY):
    return await handlers.enroll(command, actor, FakeUow(store), FakeEngine())


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
