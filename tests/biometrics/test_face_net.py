"""The numpy ResNet (face_net.py) against dlib's own evaluation of the same weights.

Templates enrolled before the switch were computed by dlib; the numpy network must give the same
descriptors, not merely similar ones, or the match thresholds and stored templates would drift.
"""

from __future__ import annotations

import numpy as np
import pytest

from tests.biometrics import need, read, requires_data

need("dlib", "PIL", "av")

import dlib  # noqa: E402

from likeness_biometrics import decode_image  # noqa: E402
from likeness_biometrics.face_net import CHIP_PADDING, CHIP_SIZE, FaceNet, ModelFormatError  # noqa: E402
from likeness_biometrics.models import face_models_dir, load_face_models  # noqa: E402

pytestmark = requires_data

WEIGHTS = "dlib_face_recognition_resnet_model_v1.dat"
PHOTOS = [
    "obama/obama3.jpg",
    "biden/biden.jpg",
    "group/two_people.jpg",
    "group/kit_with_rose.jpg",
    "lin_manuel_miranda/lin1.png",
    "alex_lacamoire/alex1.png",
    "obama/obama-240p.jpg",
]


@pytest.fixture(scope="module")
def faces():
    """(rgb, landmarks) for every face the detector finds on the photos: 9 faces."""
    models = load_face_models()
    found = []
    for rel in PHOTOS:
        rgb = np.ascontiguousarray(decode_image(read(f"faces/{rel}")).rgb)
        for rect in models.detector(rgb, 0):
            found.append((rel, rgb, models.shape_predictor(rgb, rect)))
    assert len(found) >= 9
    return found


def test_descriptors_equal_dlibs_own_to_float_rounding(faces):
    reference = dlib.face_recognition_model_v1(str(face_models_dir() / WEIGHTS))
    net = load_face_models().encoder
    assert isinstance(net, FaceNet)
    for rel, rgb, shape in faces:
        want = np.asarray(reference.compute_face_descriptor(rgb, shape, 1), np.float32)
        chip = dlib.get_face_chip(rgb, shape, size=CHIP_SIZE, padding=CHIP_PADDING)
        got = net(chip[None])[0]
        assert got.shape == (128,) and got.dtype == np.float32
        # dlib sums in another order: differences are ~3e-7; a wrong layer gives ~1e-1.
        assert np.abs(got - want).max() < 1e-5, rel
        assert np.linalg.norm(got - want) < 1e-5, rel


def test_a_batch_gives_each_face_its_own_descriptor(faces):
    net = load_face_models().encoder
    chips = np.stack([dlib.get_face_chip(rgb, s, size=CHIP_SIZE, padding=CHIP_PADDING) for _, rgb, s in faces])
    one_by_one = np.stack([net(c[None])[0] for c in chips])
    assert np.abs(net(chips) - one_by_one).max() < 1e-5
    many = np.concatenate([chips] * 3)  # more faces than one batch of the network
    assert len(many) > 16 and np.abs(net(many) - np.concatenate([one_by_one] * 3)).max() < 1e-5
    # different people are far apart, so the batch did not mix rows up
    assert np.linalg.norm(one_by_one[0] - one_by_one[1]) > 0.6


def test_wrong_chip_shape_is_refused():
    net = load_face_models().encoder
    with pytest.raises(ValueError, match="chips"):
        net(np.zeros((1, 100, 100, 3), np.uint8))


@pytest.mark.parametrize("cut", [0.0, 0.5, 0.999])
def test_truncated_or_foreign_model_file_is_refused(tmp_path, cut):
    data = (face_models_dir() / WEIGHTS).read_bytes()
    broken = tmp_path / "broken.dat"
    broken.write_bytes(data[: int(len(data) * cut)])
    with pytest.raises(ModelFormatError):
        FaceNet(broken)


def test_another_dlib_model_is_refused():
    with pytest.raises(ModelFormatError):
        FaceNet(face_models_dir() / "shape_predictor_5_face_landmarks.dat")


@pytest.mark.parametrize("tampered", ["shape_predictor_5_face_landmarks.dat", WEIGHTS])
def test_a_dlib_file_that_is_not_the_pinned_one_is_refused_at_load(tmp_path, monkeypatch, tampered):
    from likeness_biometrics import models

    for name in ("shape_predictor_5_face_landmarks.dat", WEIGHTS):
        data = bytearray((face_models_dir() / name).read_bytes())
        if name == tampered:
            data[len(data) // 2] ^= 0x01
        (tmp_path / name).write_bytes(bytes(data))
    monkeypatch.setattr(models, "face_models_dir", lambda: tmp_path)
    monkeypatch.setattr(models, "_face", None)
    with pytest.raises(ModelFormatError, match=f"{tampered}: SHA-256"):
        models.load_face_models()
