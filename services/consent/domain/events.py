"""Consent domain events."""

from __future__ import annotations

from dataclasses import dataclass

from .model import Grant


@dataclass(frozen=True)
class ConsentGranted:
    grant: Grant
    actor_id: str


@dataclass(frozen=True)
class ConsentRevoked:
    grant: Grant
    actor_id: str


@dataclass(frozen=True)
class ConsentExpired:
    grant: Grant
    actor_id: str = "system"


Event = ConsentGranted | ConsentRevoked | ConsentExpired
