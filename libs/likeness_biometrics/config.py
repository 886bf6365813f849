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
    # Long side of an enrollment photo handed to the detector (downscaled with Lanczos if larger).
    max_image_side: int = 1024
    # Verification analyses pictures (stills, video frames) at up to this long side, and finds
    # faces down to these widths in them (blaze.py): 40 px in a 1080p still, 60 px in a 1080p frame.
    verify_image_side: int = 1920
    still_min_face_px: int = 40
    video_min_face_px: int = 60
    detector_threads: int = 2  # BlazeFace interpreters sharing a picture's tiles (blaze.py)
    max_audio_seconds: float = 3600.0
    max_video_seconds: float = 3600.0
    # Animated images (GIF, APNG, WebP, AVIF): frames, and pixels summed over frames (bombs).
    max_animation_frames: int = 10_000
    max_animation_pixels: int = 2_000_000_000
    # Packets that fail to decode are skipped and recorded (incomplete coverage); past this many
    # decoding stops (the coverage says so).
    max_decode_errors: int = 20
    # ---- video sampling (frames.py has the rule)
    video_fps: float = 1.0  # grid samples per second, from the first frame
    # The longest stretch of a clip without a covered sample for coverage to be complete.
    video_max_gap_s: float = 1.0
    # Skip rule: a sample is unchanged (not analysed again) when no 8x8 window of its 256 px grey
    # thumbnail differs from the last analysed frame's by this much on average (0..255).
    video_block_change: float = 6.0
    # Shot cut: consecutive frames whose luma differs by this much on average (64x36 points).
    video_cut_change: float = 30.0
    video_max_cuts_per_s: float = 4.0  # cut samples at most this often; more are counted as unseen
    # Frames ending this long before the declared duration: a truncated clip (incomplete coverage).
    video_end_tolerance_s: float = 1.0
    # ---- face
    face_upsample: int = 0  # HOG pyramid upsampling (0: finds faces >= ~73 px; 1 finds false faces)
    min_face_px: int = 80  # enrollment: shorter side of the face box, in analysed-image pixels
    # MULTIPLE_FACES when area(second largest) >= ratio * area(largest). dlib's HOG boxes come in
    # pyramid steps of x1.2 in side, i.e. area ratios 0.69, 0.48, 0.33...; 0.4 rejects a second
    # face within two pyramid levels of the first (two_people.jpg has 0.48).
    multiple_faces_area_ratio: float = 0.4
    face_consistency_distance: float = 0.6  # sample vs the enrollment's medoid or centroid
    # ---- voice
    vad_aggressiveness: int = 2  # webrtcvad mode 0..3
    vad_energy_floor_dbfs: float = -55.0  # frames quieter than this are never speech
    min_speech_seconds: float = 1.0  # per enrollment clip (the service wants >= 3 s in total)
    segment_window_s: float = 2.0  # speech_segments_embeddings window length
    segment_min_s: float = 1.0  # shorter speech runs are not embedded on their own
    voice_consistency_cosine: float = 0.7  # one clip vs the medoid clip or the centroid
