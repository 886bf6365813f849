"""Scope matching, table-driven: modality x purpose x platform x territory x time, with the
boundaries documented in consent/domain/model.py."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from consent.domain.commands import CreateGrant, validate_terms
from consent.domain.model import Denial, Grant, Issuer, Modality, Purpose, Use, decide
from likeness_common.errors import InvalidArgument
from likeness_common.freshness import DatabaseClock
from likeness_common.tokens import decode_token, encode_token

T0 = datetime(2026, 1, 1, tzinfo=UTC)
T1 = datetime(2026, 7, 1, tzinfo=UTC)
F, V = Modality.FACE, Modality.VOICE
AD, DUB, CUSTOM = Purpose.ADVERTISING, Purpose.DUBBING, Purpose.CUSTOM


def grant(**overrides) -> Grant:
    base = dict(
        grant_id="grt_1", talent_id="tal_1", platform_id="plt_A", modalities=frozenset({F}), purposes=frozenset({AD}),
        custom_purposes=frozenset(), territories=frozenset({"US", "GB"}), not_before=T0, not_after=T1, conditions=(),
        issuer=Issuer("agency", "agc_1"), terms_ref="", created_at=T0,
    )  # fmt: skip
    base.update(overrides)
    return Grant(**base)


def use(**overrides) -> Use:
    base = dict(talent_id="tal_1", platform_id="plt_A", modality=F, purpose=AD, custom_purpose="", territory="US",
                at=T0 + timedelta(days=30))  # fmt: skip
    base.update(overrides)
    return Use(**base)


CASES = [
    # (grant overrides, use overrides, expected denial or None for allowed)
    ({}, {}, None),
    ({}, {"platform_id": "plt_B"}, Denial.WRONG_PLATFORM),
    ({"platform_id": None}, {"platform_id": "plt_B"}, None),  # any platform
    ({}, {"modality": V}, Denial.WRONG_MODALITY),
    ({"modalities": frozenset({F, V})}, {"modality": V}, None),
    ({}, {"purpose": DUB}, Denial.WRONG_PURPOSE),
    ({"purposes": frozenset({AD, DUB})}, {"purpose": DUB}, None),
    ({"purposes": frozenset({CUSTOM}), "custom_purposes": frozenset({"Music Video"})},
     {"purpose": CUSTOM, "custom_purpose": "  music   video "}, None),  # case and spacing
    ({"purposes": frozenset({CUSTOM}), "custom_purposes": frozenset({"Music Video"})},
     {"purpose": CUSTOM, "custom_purpose": "trailer"}, Denial.WRONG_PURPOSE),
    ({}, {"territory": "FR"}, Denial.OUT_OF_TERRITORY),
    ({}, {"territory": "gb"}, None),  # case-insensitive code
    ({}, {"territory": ""}, Denial.OUT_OF_TERRITORY),  # unknown territory needs a worldwide grant
    ({"territories": None}, {"territory": ""}, None),
    ({"territories": None}, {"territory": "JP"}, None),
    ({}, {"at": T0}, None),  # not_before inclusive
    ({}, {"at": T0 - timedelta(microseconds=1)}, Denial.NOT_YET_VALID),
    ({}, {"at": T1 - timedelta(microseconds=1)}, None),
    ({}, {"at": T1}, Denial.EXPIRED),  # not_after exclusive
    ({"not_after": None}, {"at": T1 + timedelta(days=3650)}, None),  # open-ended
    ({"revoked_at": T0 + timedelta(days=10)}, {}, Denial.REVOKED),
    ({"revoked_at": T0 + timedelta(days=40)}, {}, None),  # a check at an instant before the revocation
    ({"revoked_at": T0 + timedelta(days=30)}, {}, Denial.REVOKED),  # revoked at exactly that instant
    ({"talent_id": "tal_2"}, {}, Denial.NO_GRANT),
]


@pytest.mark.parametrize(("grant_overrides", "use_overrides", "expected"), CASES)
def test_scope(grant_overrides, use_overrides, expected):
    g = grant(**grant_overrides)
    decision = decide([g], use(**use_overrides))
    if expected is None:
        assert decision.allowed and decision.grant_ids == (g.grant_id,) and decision.reason is None
    else:
        assert not decision.allowed and decision.grant_ids == () and decision.reason is expected


def test_every_covering_grant_is_named_and_conditions_merged():
    from consent.domain.model import Condition

    label = Condition("disclosure_label", "AI-generated")
    grants = [grant(grant_id="grt_a", conditions=(label,)), grant(grant_id="grt_b", platform_id=None, conditions=(label,)),
              grant(grant_id="grt_c", modalities=frozenset({V}))]  # fmt: skip
    decision = decide(grants, use())
    assert decision.allowed and decision.grant_ids == ("grt_a", "grt_b") and decision.conditions == (label,)


def test_denial_names_the_closest_grant():
    grants = [grant(grant_id="grt_far", platform_id="plt_Z"), grant(grant_id="grt_near", revoked_at=T0)]
    decision = decide(grants, use())
    assert decision.reason is Denial.REVOKED and "grt_near" in decision.detail


def command(**overrides) -> CreateGrant:
    base = dict(request_id="r1", talent_id="tal_01M88J602BD7QVZB8KK88Q3310", platform_id="plt_01M88J602BD7QVZB8KK88Q3310",
                any_platform=False, modalities=("FACE",), purposes=("ADVERTISING",), custom_purposes=(), territories=("us",),
                worldwide=False, not_before=None, not_after=None, conditions=(), terms_ref="C-1")  # fmt: skip
    base.update(overrides)
    return CreateGrant(**base)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"platform_id": "", "any_platform": False}, "grant.platform_id"),
        ({"any_platform": True}, "grant.platform_id"),
        ({"modalities": ()}, "grant.modalities"),
        ({"modalities": ("SMELL",)}, "grant.modalities"),
        ({"purposes": ()}, "grant.purposes"),
        ({"purposes": ("CUSTOM",)}, "grant.custom_purposes"),
        ({"territories": ("XX",)}, "grant.territories"),
        ({"territories": (), "worldwide": False}, "grant.territories"),
        ({"worldwide": True}, "grant.territories"),
        ({"not_before": T1, "not_after": T0}, "grant.not_after"),
        ({"talent_id": "nope"}, "grant.talent_id"),
        ({"conditions": (("", "x"),)}, "grant.conditions"),
        ({"terms_ref": "x" * 201}, "grant.terms_ref"),
    ],
)
def test_invalid_terms_name_the_field(overrides, field):
    with pytest.raises(InvalidArgument) as caught:
        validate_terms(command(**overrides))
    assert field in {v.field for v in caught.value.violations}


def test_valid_terms_normalize():
    terms = validate_terms(command(custom_purposes=(" Music  Video ",)))
    assert terms.territories == frozenset({"US"}) and Purpose.CUSTOM in terms.purposes
    assert terms.custom_purposes == frozenset({"Music Video"})


def test_consistency_tokens_round_trip_and_reject_garbage():
    assert decode_token(encode_token(42)) == 42 and decode_token("") == 0
    for bad in ["42", "ct1.", "ct1.-1", "ct1.abc", "ct2.5", "ct1." + "9" * 30]:
        with pytest.raises(InvalidArgument):
            decode_token(bad)


def test_a_revoked_grant_is_revoked_for_the_present_whatever_the_clock_says():
    """`revoked_at` is the revoking transaction's clock; a reader's `now` may lag it."""
    now = T0 + timedelta(days=30)
    revoked = grant(revoked_at=now + timedelta(minutes=10))  # a revocation "in the future" of this reader
    assert decide([revoked], use(at=now, current=True)).reason is Denial.REVOKED
    assert decide([revoked], use(at=now)).allowed  # a question about an instant before the revocation
    assert decide([revoked], use(at=now + timedelta(minutes=11))).reason is Denial.REVOKED


def test_the_database_clock_keeps_its_most_precise_sample():
    """now() extrapolates from the sample with the shortest round trip (its error is at most half of
    it), replaced once older than max_sample_age."""
    ticks = iter([0.0])
    clock = DatabaseClock(monotonic=lambda: next(ticks), max_sample_age=60)
    t = datetime(2026, 11, 30, tzinfo=UTC)
    clock.synced(t, 10.0, 10.002)  # 2 ms round trip
    clock.synced(t + timedelta(seconds=5), 15.0, 15.400)  # 400 ms (a busy loop): less precise, ignored
    ticks = iter([20.001])
    assert clock.now() == t + timedelta(seconds=10)
    clock.synced(t + timedelta(seconds=61), 71.0, 71.400)  # the precise sample is too old now
    ticks = iter([71.2])
    assert clock.now() == t + timedelta(seconds=61)
