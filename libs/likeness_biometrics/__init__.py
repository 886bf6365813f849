"""Biometric pipeline: media decoding, face and voice embeddings, sample consistency, worker pool.

Pure Python + numpy (Pillow, PyAV, dlib's HOG detector and landmarks; both networks evaluated with
numpy from the dlib and Resemblyzer weight files); no gRPC, asyncpg, aiokafka or torch. Importing
the package is cheap: dlib and the weights load only when a model is first used
(in the worker processes of `worker.create_executor`). `make setup` installs them
(requirements/bio.txt).

Modules: media (sniff/decode), frames (video and animation sampling with its coverage account),
face, voice, consistency, worker, cohort (the voice score-normalization cohort's embeddings),
models (identity + loaders), config (BioConfig), errors (MediaError, SampleRejected, Reason).
"""

from .config import BioConfig
from .consistency import ConsistencyReport, check_face_consistency, check_voice_consistency, face_centroid, voice_centroid
from .errors import BiometricError, MediaError, Reason, SampleRejected
from .face import (
    DetectedFace,
    FaceBox,
    FaceEnrollmentResult,
    analyze_enrollment_image,
    face_distance,
    face_distances,
    faces_in_frame,
)
from .frames import FrameCoverage, VideoFrame, VideoSampler
from .media import SUPPORTED_MIME_TYPES, DecodedAudio, DecodedImage, MediaKind, MediaType, decode_audio, decode_image, sniff
from .models import FACE_MODEL, VOICE_MODEL, ModelInfo
from .voice import (
    AudioStats,
    SegmentEmbedding,
    Speaker,
    VoiceEnrollmentResult,
    analyze_audio,
    analyze_enrollment_clip,
    cluster_speakers,
    cosine_similarity,
    embed_speech,
    speech_segments_embeddings,
)

__all__ = [
    "FACE_MODEL",
    "SUPPORTED_MIME_TYPES",
    "VOICE_MODEL",
    "AudioStats",
    "BioConfig",
    "BiometricError",
    "ConsistencyReport",
    "DecodedAudio",
    "DecodedImage",
    "DetectedFace",
    "FaceBox",
    "FaceEnrollmentResult",
    "FrameCoverage",
    "MediaError",
    "MediaKind",
    "MediaType",
    "ModelInfo",
    "Reason",
    "SampleRejected",
    "SegmentEmbedding",
    "Speaker",
    "VideoFrame",
    "VideoSampler",
    "VoiceEnrollmentResult",
    "analyze_audio",
    "analyze_enrollment_clip",
    "analyze_enrollment_image",
    "check_face_consistency",
    "check_voice_consistency",
    "cluster_speakers",
    "cosine_similarity",
    "decode_audio",
    "decode_image",
    "embed_speech",
    "face_centroid",
    "face_distance",
    "face_distances",
    "faces_in_frame",
    "sniff",
    "speech_segments_embeddings",
    "voice_centroid",
]
