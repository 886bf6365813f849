"""The purposes a grant can name and a Verify can declare: one list for every service. The proto
enum likeness.consent.v1.Purpose and the consent domain's Purpose mirror it (PURPOSE_ prefix,
UNSPECIFIED aside); tests/unit/test_vocabulary.py keeps the three equal."""

NAMED = ("ADVERTISING", "DUBBING", "SYNTHETIC_PERFORMANCE", "TRAINING", "EDITORIAL")
CUSTOM = "CUSTOM"  # any other use, described in words (custom_purpose)
ALL = (*NAMED, CUSTOM)
