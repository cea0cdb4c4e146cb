"""Face quality: sharp frontal faces pass; blurred, tiny, weakly detected and turned faces are
flagged, from the pose the landmarks give."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from recognition import (
    Analysis,
    Limits,
)
from recognition.models import (
    resolve_model_pack,
)
from recognition.pipeline import FaceAnalyzer
from recognition.quality import assess, estimate_pose
from tests.images import (
    T1,
    crop_around,
    read_bytes,
    read_image,
    to_png,
)

LIMITS = Limits()


@pytest.fixture(scope="module")
def analyzer() -> FaceAnalyzer:
    return FaceAnalyzer(resolve_model_pack(None), LIMITS, threads=1)


@pytest.fixture(scope="module")
def t1(analyzer: FaceAnalyzer) -> Analysis:
    return analyzer.analyze(read_bytes(T1))


# --- quality ------------------------------------------------------------------------------------


def test_sharp_frontal_faces_pass_quality(t1: Analysis) -> None:
    # Faces 1, 2 and 6 of t1.jpg look roughly at the camera.
    for index in (1, 2, 6):
        face = t1.faces[index - 1]
        assert face.quality.ok, face.quality.as_dict()


def test_blurred_face_is_flagged_blurry(analyzer: FaceAnalyzer, t1: Analysis) -> None:
    face = t1.faces[0]
    crop = crop_around(read_image(T1), face.bbox, 0.6)
    analysis = analyzer.analyze(to_png(cv2.GaussianBlur(crop, (0, 0), 4)))
    assert analysis.faces
    assert "blurry" in analysis.faces[0].quality.reasons


def test_tiny_face_is_flagged_small(t1: Analysis) -> None:
    face = t1.faces[0]
    quality = assess((10.0, 10.0, 35.0, 42.0), face.landmarks, 0.9, face.crop, LIMITS)
    assert "small" in quality.reasons and not quality.ok
    assert quality.face_px == 25


def test_low_detector_score_is_flagged(t1: Analysis) -> None:
    face = t1.faces[0]
    quality = assess(face.bbox, face.landmarks, 0.55, face.crop, LIMITS)
    assert quality.reasons == ("low_score",)


# ArcFace's reference landmarks: a frontal face.
FRONTAL = np.array(
    [[38.29, 51.70], [73.53, 51.50], [56.03, 71.74], [41.55, 92.37], [70.73, 92.20]],
    dtype=np.float32,
)


def test_pose_of_a_frontal_face_is_near_zero() -> None:
    yaw, pitch = estimate_pose(FRONTAL)
    assert abs(yaw) < 5 and abs(pitch) < 10


def test_pose_is_mirror_symmetric_and_roll_invariant() -> None:
    turned = FRONTAL.copy()
    turned[2, 0] += 12  # nose towards the right eye
    yaw, pitch = estimate_pose(turned)
    mirrored = turned.copy()
    mirrored[:, 0] = 112 - mirrored[:, 0]
    mirrored = mirrored[[1, 0, 2, 4, 3]]  # the left eye is now the other one
    yaw_m, _ = estimate_pose(mirrored)
    assert yaw > 15 and yaw_m == pytest.approx(-yaw, abs=0.5)
    angle = np.radians(25)
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    yaw_r, pitch_r = estimate_pose(turned @ rot.T)
    assert (yaw_r, pitch_r) == pytest.approx((yaw, pitch), abs=0.1)


def test_profile_face_is_flagged_pose(t1: Analysis) -> None:
    profile = FRONTAL.copy()
    # In a profile the nose tip sticks out past the near eye.
    profile[:, 0] = [50.0, 66.0, 82.0, 55.0, 70.0]
    face = t1.faces[0]
    quality = assess(face.bbox, profile, 0.9, face.crop, LIMITS)
    assert "pose" in quality.reasons
    assert abs(quality.yaw) > LIMITS.max_yaw_deg


def test_head_tilted_down_is_flagged_pose(t1: Analysis) -> None:
    down = FRONTAL.copy()
    down[2, 1] = 88.0  # the nose tip drops towards the mouth
    face = t1.faces[0]
    quality = assess(face.bbox, down, 0.9, face.crop, LIMITS)
    assert quality.pitch > LIMITS.max_pitch_deg and "pose" in quality.reasons
