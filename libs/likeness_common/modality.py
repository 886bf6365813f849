"""What a likeness is made of: one vocabulary for every service (enrollment stores templates of a
modality, consent grants a modality, verification matches one). The proto enum
likeness.enrollment.v1.Modality mirrors it (MODALITY_ prefix, UNSPECIFIED aside)."""

from __future__ import annotations

import enum


class Modality(str, enum.Enum):
    FACE = "FACE"
    VOICE = "VOICE"
