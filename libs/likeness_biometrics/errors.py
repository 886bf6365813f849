"""Typed errors of the biometric pipeline.

Each carries a machine-readable `reason` (one of `Reason`) and maps to INVALID_ARGUMENT through the
shared interceptor (they subclass `likeness_common.errors.InvalidArgument`, which imports no gRPC).
They pickle across the worker-process boundary: `BaseException.__reduce__` re-creates the instance
from the message and restores `reason`/`metadata` from `__dict__`.
"""

from __future__ import annotations

from likeness_common.errors import InvalidArgument


class Reason:
    # media
    UNDECODABLE_MEDIA = "UNDECODABLE_MEDIA"
    UNSUPPORTED_MEDIA_TYPE = "UNSUPPORTED_MEDIA_TYPE"
    MEDIA_TOO_LARGE = "MEDIA_TOO_LARGE"  # bytes or pixels over the limit (decompression bombs)
    MEDIA_TOO_LONG = "MEDIA_TOO_LONG"  # audio/video duration over the limit
    NO_AUDIO_STREAM = "NO_AUDIO_STREAM"
    NO_VIDEO_STREAM = "NO_VIDEO_STREAM"
    # face samples
    NO_FACE = "NO_FACE"
    MULTIPLE_FACES = "MULTIPLE_FACES"
    FACE_TOO_SMALL = "FACE_TOO_SMALL"
    # voice samples
    TOO_LITTLE_SPEECH = "TOO_LITTLE_SPEECH"


class BiometricError(InvalidArgument):
    """Base class of everything this package raises on purpose."""

    reason = Reason.UNDECODABLE_MEDIA


class MediaError(BiometricError):
    """The bytes could not be turned into pixels or samples (or are over a limit)."""

    reason = Reason.UNDECODABLE_MEDIA


class SampleRejected(BiometricError):
    """The media decoded but is not usable as an enrollment sample (NO_FACE, TOO_LITTLE_SPEECH...)."""

    reason = Reason.NO_FACE


class ModelFormatError(ValueError):
    """A weight file (dlib .dat, the converted voice .safetensors) is not the network this package
    evaluates, or not the file its SHA-256 pin names (models.WEIGHTS_SHA256): a fault of the
    installation, raised when a worker loads its models, never an INVALID_ARGUMENT."""
