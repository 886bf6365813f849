"""Kafka topics: one per bounded context, every record a `likeness.events.v1.Event`."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Topic:
    name: str
    partitions: int
    retention_ms: int


_WEEK = 7 * 24 * 3600 * 1000

REGISTRY = Topic("likeness.registry.events", 3, 4 * _WEEK)
ENROLLMENT = Topic("likeness.enrollment.events", 3, 4 * _WEEK)
CONSENT = Topic("likeness.consent.events", 3, 52 * _WEEK)
VERIFICATION = Topic("likeness.verification.events", 6, 4 * _WEEK)

ALL_TOPICS: tuple[Topic, ...] = (REGISTRY, ENROLLMENT, CONSENT, VERIFICATION)
