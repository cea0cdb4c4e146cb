"""HEIC/HEIF photos (iPhones): decoded upright, within the limits, and their faces found."""

from __future__ import annotations

import numpy as np
import pytest

from recognition import CorruptImage, Limits, TooManyPixels, UnsupportedImage
from recognition.decode import decode_image, sniff_format
from recognition.models import resolve_model_pack
from recognition.pipeline import FaceAnalyzer
from tests.images import T1, T1_FACES, TOM_HANKS, read_bytes, read_image, resize, truncated
from tests.media import clip_bytes, heic_bytes, heic_sequence, still_frames, with_declared_size

LIMITS = Limits()
# HEVC at quality 90 changes pixels by about half a grey level on average
MAX_MEAN_PIXEL_ERROR = 2.0


@pytest.fixture(scope="module")
def analyzer() -> FaceAnalyzer:
    return FaceAnalyzer(resolve_model_pack(None), LIMITS, threads=1)


@pytest.fixture(scope="module")
def t1_heic() -> bytes:
    """t1.jpg as HEIC (encoding it takes a second or two: once for the module)."""
    return heic_bytes(read_image(T1))


def _mean_error(a: np.ndarray, b: np.ndarray) -> float:
    assert a.shape == b.shape
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


def test_heic_group_photo_yields_the_same_faces_as_the_jpeg(
    analyzer: FaceAnalyzer, t1_heic: bytes
) -> None:
    original = read_image(T1)
    data = t1_heic
    assert sniff_format(data) == "HEIF"

    decoded = decode_image(data, LIMITS)
    assert _mean_error(decoded, original) < MAX_MEAN_PIXEL_ERROR

    from_heic = analyzer.analyze(data)
    from_jpeg = analyzer.analyze(read_bytes(T1))
    assert len(from_heic.faces) == T1_FACES
    for heic_face, jpeg_face in zip(from_heic.faces, from_jpeg.faces, strict=True):
        assert float(heic_face.embedding @ jpeg_face.embedding) > 0.9


@pytest.mark.parametrize("orientation", range(1, 9))
def test_heic_is_turned_upright_by_its_orientation(orientation: int) -> None:
    # A 4:3 crop, so a turn that is not undone shows up as swapped sides.
    upright = read_image(T1)[:300, :400]
    decoded = decode_image(heic_bytes(upright, orientation), LIMITS)
    assert decoded.shape == upright.shape
    assert _mean_error(decoded, upright) < MAX_MEAN_PIXEL_ERROR


def test_face_in_a_turned_iphone_photo_is_found_upright(analyzer: FaceAnalyzer) -> None:
    # Portrait photo held sideways: stored turned, with orientation 6 to view it upright.
    face = resize(read_image(TOM_HANKS), 3.0)
    upright = np.full((480, 360, 3), 200, dtype=np.uint8)
    upright[80:416, 12:348] = face
    found = analyzer.analyze(heic_bytes(upright, orientation=6)).faces
    assert len(found) == 1
    # Upright: eyes level and above the nose, mouth below it.
    left_eye, right_eye, nose, mouth_left, mouth_right = found[0].landmarks
    assert left_eye[0] < right_eye[0]
    assert abs(left_eye[1] - right_eye[1]) < 0.1 * (right_eye[0] - left_eye[0])
    assert max(left_eye[1], right_eye[1]) < nose[1] < min(mouth_left[1], mouth_right[1])
    reference = analyzer.analyze(read_bytes(TOM_HANKS)).faces[0]
    assert float(found[0].embedding @ reference.embedding) > 0.8


def test_heic_with_several_images_decodes_its_primary_image() -> None:
    dark = np.full((64, 64, 3), 20, dtype=np.uint8)
    light = np.full((64, 64, 3), 230, dtype=np.uint8)
    decoded = decode_image(heic_sequence([dark, light], primary=1), LIMITS)
    assert abs(float(decoded.mean()) - 230) < 5


def test_heic_declaring_too_many_pixels_is_refused_before_decoding(t1_heic: bytes) -> None:
    data = with_declared_size(heic_bytes(np.zeros((64, 64, 3), dtype=np.uint8)), 8000, 8000)
    with pytest.raises(TooManyPixels):
        decode_image(data, LIMITS)
    small = Limits(max_pixels=100_000)
    with pytest.raises(TooManyPixels):
        decode_image(t1_heic, small)


def test_heic_whose_pixels_disagree_with_its_header_is_corrupt() -> None:
    data = with_declared_size(heic_bytes(read_image(T1)[:128, :128]), 32, 32)
    with pytest.raises(CorruptImage):
        decode_image(data, LIMITS)


def test_truncated_heic_is_corrupt(t1_heic: bytes) -> None:
    with pytest.raises(CorruptImage):
        decode_image(truncated(t1_heic, 0.5), LIMITS)


def test_mp4_video_is_not_taken_for_a_heic_photo() -> None:
    # Both are ISO-BMFF files starting with an ftyp box; only HEVC image brands are HEIC.
    clip = clip_bytes(still_frames(np.zeros((64, 64, 3), dtype=np.uint8), 0.5, 10))
    assert clip[4:8] == b"ftyp"
    with pytest.raises(UnsupportedImage):
        decode_image(clip, LIMITS)
