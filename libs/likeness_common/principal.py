"""Who is calling. Plain data, shared by every service's domain code."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class PrincipalKind(str, enum.Enum):
    OPERATOR = "operator"
    AGENCY = "agency"
    PLATFORM = "platform"


@dataclass(frozen=True)
class Principal:
    kind: PrincipalKind
    principal_id: str
    display_name: str = ""

    @property
    def is_operator(self) -> bool:
        return self.kind is PrincipalKind.OPERATOR

    @property
    def is_agency(self) -> bool:
        return self.kind is PrincipalKind.AGENCY

    @property
    def is_platform(self) -> bool:
        return self.kind is PrincipalKind.PLATFORM
