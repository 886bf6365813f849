"""Pure domain rules of the registry, no I/O."""

from datetime import UTC, datetime, timedelta

import pytest

from likeness_common.errors import FieldViolation
from likeness_common.ids import is_id, new_id
from registry.domain.model import MAX_NAME_LENGTH, Mandate, MandateState, check_name

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


@pytest.mark.parametrize(
    ("valid_from", "valid_until", "ended_at", "expected"),
    [
        (NOW - HOUR, None, None, MandateState.ACTIVE),
        (NOW, None, None, MandateState.ACTIVE),  # valid_from is inclusive
        (NOW + HOUR, None, None, MandateState.PENDING),
        (NOW - 2 * HOUR, NOW, None, MandateState.ENDED),  # valid_until is exclusive
        (NOW - 2 * HOUR, NOW + HOUR, None, MandateState.ACTIVE),
        (NOW - 2 * HOUR, None, NOW - HOUR, MandateState.ENDED),
        (NOW - 2 * HOUR, None, NOW + HOUR, MandateState.ACTIVE),  # ends later
    ],
)
def test_mandate_state_boundaries(valid_from, valid_until, ended_at, expected):
    mandate = Mandate("mnd_x", "agc_x", "tal_x", valid_from, valid_until, ended_at)
    assert mandate.state(NOW) is expected
    assert mandate.is_active(NOW) is (expected is MandateState.ACTIVE)


def test_ending_a_mandate_records_when_and_why():
    mandate = Mandate("mnd_x", "agc_x", "tal_x", NOW - HOUR, None)
    mandate.end(NOW, "contract over")
    assert mandate.state(NOW) is MandateState.ENDED
    assert mandate.end_reason == "contract over"


@pytest.mark.parametrize(
    ("raw", "cleaned", "problem"),
    [
        ("  Jane Doe ", "Jane Doe", None),
        ("Zoë", "Zoë", None),
        ("", "", "must not be empty"),
        ("   ", "", "must not be empty"),
        ("x" * (MAX_NAME_LENGTH + 1), "x" * (MAX_NAME_LENGTH + 1), f"at most {MAX_NAME_LENGTH}"),
        ("bad\x00name", "bad\x00name", "control characters"),
        ("tab\tname", "tab\tname", "control characters"),
    ],
)
def test_check_name(raw, cleaned, problem):
    violations: list[FieldViolation] = []
    assert check_name("display_name", raw, violations) == cleaned
    if problem is None:
        assert violations == []
    else:
        assert len(violations) == 1 and problem in violations[0].description
        assert violations[0].field == "display_name"


def test_ids_carry_their_type_and_sort_by_time():
    first = new_id("tal")
    second = new_id("tal")
    assert is_id(first, "tal") and not is_id(first, "agc")
    assert not is_id("tal_short", "tal") and not is_id("", "tal")
    assert first[:14] <= second[:14]  # millisecond prefix is monotone
