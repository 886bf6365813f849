"""Face detection, enrollment rules, encodings and consistency on real photos."""

from __future__ import annotations

import numpy as np
import pytest

from tests.biometrics import need, read, requires_data

need("dlib", "PIL", "av")

from PIL import Image, ImageFilter  # noqa: E402

from likeness_biometrics import (  # noqa: E402
    FACE_MODEL,
    BioConfig,
    Reason,
    SampleRejected,
    VideoSampler,
    analyze_enrollment_image,
    check_face_consistency,
    decode_image,
    face_distance,
    face_distances,
    faces_in_frame,
)
from likeness_biometrics.models import load_face_models  # noqa: E402

pytestmark = requires_data


@pytest.fixture(scope="module")
def models():
    return load_face_models()


@pytest.fixture(scope="module")
def enc(models):
    cache: dict[str, np.ndarray] = {}

    def get(rel: str) -> np.ndarray:
        if rel not in cache:
            cache[rel] = analyze_enrollment_image(decode_image(read(f"faces/{rel}")).rgb, models=models).encoding
        return cache[rel]

    return get


def test_obama_photos_match_each_other_and_not_biden(enc) -> None:
    obama = [enc(f"obama/{n}") for n in ("obama.jpg", "obama2.jpg", "obama3.jpg", "obama4.jpg")]
    biden = [enc("biden/biden.jpg"), enc("biden/biden2.jpg")]
    same = [face_distance(a, b) for i, a in enumerate(obama) for b in obama[i + 1 :]]
    cross = [face_distance(a, b) for a in obama for b in biden]
    assert max(same) < 0.5, same
    assert min(cross) > 0.65, cross
    assert face_distance(biden[0], biden[1]) < 0.6
    d = face_distances(np.stack(obama), biden[0])
    assert d.shape == (4,) and d == pytest.approx([face_distance(o, biden[0]) for o in obama])


def test_enrollment_result(models) -> None:
    r = analyze_enrollment_image(decode_image(read("faces/obama/obama.jpg")).rgb, models=models)
    assert r.encoding.shape == (128,) and r.encoding.dtype == np.float32
    assert 0.0 <= r.quality <= 1.0 and set(r.quality_factors) >= {"size", "sharpness", "frontal"}
    assert r.box.width >= 150 and 0 <= r.box.left < r.box.right <= r.image_width
    assert (r.model_name, r.model_version) == (FACE_MODEL.name, FACE_MODEL.version)
    assert r.faces_detected == 1


def test_two_people_is_multiple_faces_for_enrollment_and_two_faces_for_verification(models) -> None:
    rgb = decode_image(read("faces/group/two_people.jpg")).rgb
    with pytest.raises(SampleRejected) as err:
        analyze_enrollment_image(rgb, models=models)
    assert err.value.reason == Reason.MULTIPLE_FACES
    faces = faces_in_frame(rgb, models=models)
    assert len(faces) == 2
    assert faces[0].box.area >= faces[1].box.area
    obama = analyze_enrollment_image(decode_image(read("faces/obama/obama.jpg")).rgb, models=models).encoding
    left, right = sorted(faces, key=lambda f: f.box.left)  # Obama stands on the left
    assert face_distance(left.encoding, obama) < 0.6 < face_distance(right.encoding, obama)


def test_background_face_does_not_block_enrollment(models) -> None:
    rgb = decode_image(read("faces/group/two_people.jpg")).rgb
    # Same photo, but the rule only rejects a second face at >= 60 % of the largest one's area.
    r = analyze_enrollment_image(rgb, BioConfig(multiple_faces_area_ratio=0.6), models=models)
    assert r.faces_detected == 2


def test_small_face_and_no_face(models) -> None:
    with pytest.raises(SampleRejected) as err:
        analyze_enrollment_image(decode_image(read("faces/obama/obama-240p.jpg")).rgb, models=models)
    assert err.value.reason == Reason.FACE_TOO_SMALL
    # A face too small for the detector without upsampling is still reported as too small.
    tiny = decode_image(read("faces/obama/obama.jpg"), BioConfig(max_image_side=300)).rgb
    with pytest.raises(SampleRejected) as err:
        analyze_enrollment_image(tiny, models=models)
    assert err.value.reason == Reason.FACE_TOO_SMALL
    blank = np.full((480, 640, 3), 128, np.uint8)
    with pytest.raises(SampleRejected) as err:
        analyze_enrollment_image(blank, models=models)
    assert err.value.reason == Reason.NO_FACE
    assert faces_in_frame(blank, models=models) == []


def test_blur_lowers_quality(models) -> None:
    rgb = decode_image(read("faces/obama/obama.jpg")).rgb
    sharp = analyze_enrollment_image(rgb, models=models)
    blurred_rgb = np.asarray(Image.fromarray(rgb).filter(ImageFilter.GaussianBlur(4)))
    blurred = analyze_enrollment_image(np.ascontiguousarray(blurred_rgb), models=models)
    assert blurred.quality_factors["sharpness"] < sharp.quality_factors["sharpness"]
    assert blurred.quality < sharp.quality


def test_alpha_png_face(models, enc) -> None:
    r = analyze_enrollment_image(decode_image(read("faces/misc/32bit.png")).rgb, models=models)
    assert r.faces_detected == 1 and r.encoding.shape == (128,)


def test_video_frames_have_faces(models) -> None:
    frames = list(VideoSampler(read("faces/video/short_hamilton_clip.mp4"), BioConfig()))
    found = [faces_in_frame(f.rgb, models=models) for f in frames]
    with_faces = [f for f in found if f]
    assert len(with_faces) >= len(frames) // 2, [len(f) for f in found]
    lin = analyze_enrollment_image(decode_image(read("faces/lin_manuel_miranda/lin1.png")).rgb, models=models)
    best = min(face_distance(face.encoding, lin.encoding) for faces in with_faces for face in faces)
    assert best < 0.6  # Lin-Manuel Miranda is in the scene


def test_consistency_names_the_odd_photo_out(enc) -> None:
    samples = [
        enc("obama/obama.jpg"),
        enc("obama/obama2.jpg"),
        enc("biden/biden.jpg"),
        enc("obama/obama3.jpg"),
    ]
    report = check_face_consistency(samples)
    assert report.outliers == (2,)
    assert report.reference == "medoid" and report.reference_index != 2
    assert report.centroid is not None and report.centroid.shape == (128,)
    # Against an existing Obama centroid, a new Biden photo is flagged and an Obama one is not.
    again = check_face_consistency([enc("biden/biden2.jpg"), enc("obama/obama4.jpg")], existing_centroid=report.centroid)
    assert again.outliers == (0,) and again.reference == "centroid"
    # Two samples that disagree: no majority, both flagged.
    assert check_face_consistency([enc("obama/obama.jpg"), enc("biden/biden.jpg")]).outliers == (
        0,
        1,
    )
    assert check_face_consistency([enc("obama/obama.jpg")]).consistent


def test_partial_faces_still_match(enc) -> None:
    ref = enc("obama/obama.jpg")
    for name in ("obama_partial_face.jpg", "obama_partial_face2.jpg", "obama_small.jpg"):
        assert face_distance(enc(f"obama/{name}"), ref) < 0.6, name


@pytest.mark.parametrize("face_px", [40, 60, 90])
def test_small_faces_in_a_1080p_still_are_found(face_px) -> None:
    """Four faces pasted `face_px` wide into a 1920x1080 JPEG: verification finds every one (BlazeFace
    proposals confirmed by dlib's HOG; the plain 1024 px HOG pass finds none under ~137 px)."""
    from likeness_biometrics.worker import faces_in_image
    from tests import mediakit

    picture = mediakit.scene(1920, 1080, 5)
    sources = [("obama", "obama3.jpg"), ("biden", "biden2.jpg"), ("kit_harington", "john1.jpeg"), ("rose_leslie", "rose1.jpg")]
    centres = [(260, 240), (760, 620), (1300, 300), (1700, 860)]
    for who, at in zip(sources, centres):
        picture = mediakit.paste(picture, mediakit.face_patch(who, face_px), at)
    found = faces_in_image(mediakit.still(picture, quality=90), BioConfig()).frames[0].faces
    assert len(found) == 4, [(f.box, f.detection_score) for f in found]
    for face in found:
        assert 0.7 * face_px <= face.box.width <= 1.5 * face_px
    old = faces_in_frame(decode_image(mediakit.still(picture, quality=90)).rgb)
    assert face_px > 80 or not old  # what the old pass saw


def test_small_faces_in_1080p_video_frames_are_found() -> None:
    from likeness_biometrics.worker import faces_in_video
    from tests import mediakit

    picture = mediakit.paste(mediakit.scene(1920, 1080, 6), mediakit.face_patch(("obama", "obama3.jpg"), 60), (900, 500))
    clip = mediakit.encode_video(lambda i: picture, count=20, fps=10)
    frames = faces_in_video(clip, BioConfig()).frames
    assert frames and all(len(f.faces) == 1 for f in frames)


def test_a_face_free_picture_gives_no_face() -> None:
    from likeness_biometrics.worker import faces_in_image
    from tests import mediakit

    assert faces_in_image(mediakit.still(mediakit.scene(1920, 1080, 7)), BioConfig()).frames[0].faces == []


def test_the_small_face_detector_finds_every_face_the_plain_hog_pass_finds_in_real_video(models) -> None:
    """Frame by frame on the Hamilton clip: wherever dlib's HOG on the whole frame sees a face, the
    verification detector (BlazeFace proposals confirmed by HOG) sees it too (a proposal scored 0.36
    once: hence the low proposal threshold)."""
    frames = list(VideoSampler(read("faces/video/short_hamilton_clip.mp4"), BioConfig()))
    for frame in frames:
        old = faces_in_frame(frame.rgb, models=models)
        new = faces_in_frame(frame.rgb, models=models, min_face_px=60)
        for face in old:
            cx, cy = (face.box.left + face.box.right) / 2, (face.box.top + face.box.bottom) / 2
            assert any(f.box.left <= cx <= f.box.right and f.box.top <= cy <= f.box.bottom for f in new), (frame.index, face.box)
