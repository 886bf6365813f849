"""Tunables of the pipeline in one frozen, picklable dataclass (it travels to worker processes)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class BioConfig:
    # ---- media limits
    max_input_bytes: int = 64 * 1024 * 1024
    # Pixels (width*height, read from the header before any pixel is decoded). 64 MP admits
    # 48/50 MP phone photos; JPEGs are decoded at a reduced DCT scale (Image.draft) anyway.
    max_image_pixels: int = 64_000_000
    # Long side of the image handed to the detector (downscaled with Lanczos if larger).
    max_image_side: int = 1024
    max_audio_seconds: float = 600.0
    max_video_seconds: float = 300.0
    # ---- video sampling
    video_fps: float = 1.0  # sampled frames per second, plus the first frame
    video_max_frames: int = 120  # frames kept at most (after change filtering)
    # Mean absolute difference (0..255) between 32x32 grey thumbnails under which a sampled frame
    # counts as "barely changed" vs the previously kept frame and is skipped.
    video_min_change: float = 4.0
    # ---- face
    face_upsample: int = 0  # HOG pyramid upsampling (0: finds faces >= ~73 px; 1 finds false faces)
    min_face_px: int = 80  # enrollment: shorter side of the face box, in analysed-image pixels
    # MULTIPLE_FACES when area(second largest) >= ratio * area(largest). dlib's HOG boxes come in
    # pyramid steps of x1.2 in side, i.e. area ratios 0.69, 0.48, 0.33...; 0.4 rejects a second
    # face within two pyramid levels of the first (two_people.jpg has 0.48).
    multiple_faces_area_ratio: float = 0.4
    face_match_distance: float = 0.6  # Euclidean; same person 0.3-0.45, different 0.65-0.9
    face_consistency_distance: float = 0.6  # sample vs the enrollment's medoid or centroid
    # ---- voice
    vad_aggressiveness: int = 2  # webrtcvad mode 0..3
    vad_energy_floor_dbfs: float = -55.0  # frames quieter than this are never speech
    min_speech_seconds: float = 1.0  # per enrollment clip (the service wants >= 3 s in total)
    segment_window_s: float = 2.0  # speech_segments_embeddings window length
    segment_min_s: float = 1.0  # shorter speech runs are not embedded on their own
    voice_match_cosine: float = 0.80  # probe vs enrolled centroid; see bench/accuracy
    voice_consistency_cosine: float = 0.7  # one clip vs the medoid clip or the centroid
