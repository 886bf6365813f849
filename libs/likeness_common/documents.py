"""The signed document types this product exports, and the C2PA wrapping of a receipt. Pure data:
domain code may import it.

A verification receipt can travel inside the clip's C2PA manifest as a custom assertion:
`{"label": "org.likeness.verification", "data": <the receipt envelope as a JSON object>}`.
A verifier re-serializes `data` canonically (see signing.py) and checks it like the plain file.
"""

from __future__ import annotations

import json
from typing import Any

GRANT_TYPE = "likeness.grant.v1"
RECEIPT_TYPE = "likeness.receipt.v1"
C2PA_LABEL = "org.likeness.verification"


def canonical_json(value: Any) -> bytes:
    """UTF-8, keys sorted, no insignificant white space, no floats (see signing.py)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def c2pa_assertion(receipt_envelope: bytes) -> bytes:
    """A receipt envelope as a C2PA custom assertion (canonical JSON + newline)."""
    return canonical_json({"label": C2PA_LABEL, "data": json.loads(receipt_envelope)}) + b"\n"


def unwrap_c2pa(data: bytes) -> bytes:
    """The envelope inside a C2PA assertion; any other document unchanged."""
    try:
        doc = json.loads(data)
    except ValueError:
        return data
    if isinstance(doc, dict) and doc.get("label") == C2PA_LABEL and isinstance(doc.get("data"), dict):
        return canonical_json(doc["data"]) + b"\n"
    return data
