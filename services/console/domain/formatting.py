"""How the services' facts read for people, as plain values (the service layer unpacks the
protobuf messages into them)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol


def label(name: str) -> str:
    """An enum value's name less its prefix, for people: `SYNTHETIC_PERFORMANCE` -> "synthetic performance"."""
    return name.replace("_", " ").lower()


def when(moment: datetime | None) -> str:
    """A moment (UTC) as every page shows it; "" for none."""
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC") if moment else ""


class Provenance(Protocol):
    """What a clip's own C2PA manifest said (verification's IncomingProvenance)."""

    validation_state: str
    digital_source_types: Sequence[str]
    signer: str
    training_mining: Sequence[str]
    failures: Sequence[str]


def provenance_line(p: Provenance) -> str:
    """The clip's own C2PA manifest in one line (evidence the platform's clip carried, not a verdict)."""
    sources = ", ".join(t.rsplit("/", 1)[-1] for t in p.digital_source_types)
    parts = [f"C2PA manifest {p.validation_state}", f"declares {sources}" if sources else "", f"signed by {p.signer}" if p.signer else "",
             f"training: {', '.join(p.training_mining)}" if p.training_mining else "", f"failures: {', '.join(p.failures)}" if p.validation_state == "Invalid" else ""]  # fmt: skip
    return "; ".join(x for x in parts if x)
