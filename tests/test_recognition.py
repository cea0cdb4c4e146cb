"""Recognition pipeline: detection, padding, embeddings, the same face through what phones and
messengers do to photos, and the pictures rendered."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable

import cv2
import numpy as np
import pytest

from recognition import (
    Analysis,
    Limits,
)
from recognition.decode import decode_image
from recognition.models import (
    resolve_model_pack,
)
from recognition.pipeline import FaceAnalyzer
from recognition.render import (
    PAIR_FACE_PX,
    decode_jpeg,
    draw_numbered_boxes,
    encode_jpeg,
    side_by_side,
)
from tests.images import (
    T1,
    T1_FACES,
    TOM_HANKS,
    crop_around,
    flip,
    read_bytes,
    read_image,
    recompress_jpeg,
    resize,
    to_jpeg,
    to_png,
    to_webp,
    with_exif_orientation,
)

LIMITS = Limits()
SAME_FACE_COSINE = 0.5


@pytest.fixture(scope="module")
def analyzer() -> FaceAnalyzer:
    return FaceAnalyzer(resolve_model_pack(None), LIMITS, threads=1)


@pytest.fixture(scope="module")
def t1(analyzer: FaceAnalyzer) -> Analysis:
    return analyzer.analyze(read_bytes(T1))


def _cos(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.dot(a, b))


def _best_match(analysis: Analysis, reference: np.ndarray) -> float:
    assert analysis.faces, "no face found"
    return max(_cos(face.embedding, reference) for face in analysis.faces)


# --- detection, ordering, embeddings ---------------------------------------------------------


def test_group_photo_yields_every_face_largest_first(t1: Analysis) -> None:
    assert len(t1.faces) == T1_FACES
    assert [f.index for f in t1.faces] == list(range(1, T1_FACES + 1))
    areas = [f.area for f in t1.faces]
    assert areas == sorted(areas, reverse=True)
    assert not t1.padded
    assert (t1.width, t1.height) == (1280, 886)
    for face in t1.faces:
        assert face.embedding.shape == (512,)
        assert face.embedding.dtype == np.float32
        assert np.linalg.norm(face.embedding) == pytest.approx(1.0, abs=1e-4)
        assert face.crop.shape == (112, 112, 3) and face.crop.dtype == np.uint8
        assert face.landmarks.shape == (5, 2)
        x1, y1, x2, y2 = face.bbox
        assert 0 <= x1 < x2 <= t1.width and 0 <= y1 < y2 <= t1.height
        assert face.det_score >= LIMITS.det_threshold


def test_different_people_in_group_photo_are_not_similar(t1: Analysis) -> None:
    embeddings = np.stack([f.embedding for f in t1.faces])
    similarity = embeddings @ embeddings.T
    off_diagonal = similarity[~np.eye(T1_FACES, dtype=bool)]
    assert off_diagonal.max() < 0.4


def test_analysis_reports_hash_and_timings(t1: Analysis) -> None:
    assert t1.sha256 == hashlib.sha256(read_bytes(T1)).hexdigest()
    assert {"decode", "detect", "embed"} <= set(t1.timings_ms)
    assert all(v >= 0 for v in t1.timings_ms.values())


def test_max_faces_keeps_the_largest(analyzer: FaceAnalyzer, t1: Analysis) -> None:
    two = analyzer.analyze(read_bytes(T1), max_faces=2)
    assert [f.bbox for f in two.faces] == [f.bbox for f in t1.faces[:2]]
    with pytest.raises(ValueError):
        analyzer.analyze(read_bytes(T1), max_faces=0)


def test_aligned_face_image_yields_its_face(analyzer: FaceAnalyzer) -> None:
    analysis = analyzer.analyze(read_bytes(TOM_HANKS))
    assert len(analysis.faces) == 1
    # The image already is an aligned 112x112 crop, so embedding it as is must agree.
    as_crop = analyzer.embed_crop(read_image(TOM_HANKS))
    assert _cos(analysis.faces[0].embedding, as_crop) > 0.8


def test_tight_face_crops_are_found_through_padding(analyzer: FaceAnalyzer, t1: Analysis) -> None:
    image = read_image(T1)
    padded_seen = 0
    for face in t1.faces:
        # Shrinking the box by 30% a side cuts off forehead, chin and cheeks.
        x1, y1, x2, y2 = face.bbox
        left, top = round(x1 + 0.3 * (x2 - x1)), round(y1 + 0.3 * (y2 - y1))
        crop = crop_around(image, face.bbox, -0.3)
        analysis = analyzer.analyze_image(crop, "x")
        if not analysis.padded:
            continue
        padded_seen += 1
        assert len(analysis.faces) == 1
        found = analysis.faces[0]
        # Boxes are clipped to the frame for display; landmarks map back to the frame.
        fx1, fy1, fx2, fy2 = found.bbox
        assert 0 <= fx1 < fx2 <= crop.shape[1] and 0 <= fy1 < fy2 <= crop.shape[0]
        expected = face.landmarks - np.array([left, top], dtype=np.float32)
        errors = np.linalg.norm(found.landmarks - expected, axis=1)
        iod = float(np.linalg.norm(expected[1] - expected[0]))
        # Landmarks of a face missing its outline wander by up to a third of the eye distance.
        assert errors.mean() < 0.35 * iod
        assert _cos(found.embedding, face.embedding) > 0.2
    assert padded_seen >= 2


def test_padded_search_maps_faces_back_to_the_photo(analyzer: FaceAnalyzer, t1: Analysis) -> None:
    # t1.jpg is wider than the padded search's 640 px working copy, so this covers the
    # downscale as well as the pad offset.
    found = analyzer._detect_padded(t1.image)
    assert len(found.scores) == T1_FACES
    for face in t1.faces:
        errors = np.linalg.norm(found.landmarks - face.landmarks, axis=2).mean(axis=1)
        iod = float(np.linalg.norm(face.landmarks[1] - face.landmarks[0]))
        # The padded search sees the photo at a third of its size, so allow a few pixels.
        assert errors.min() < 0.2 * iod


def test_image_without_faces_yields_none(analyzer: FaceAnalyzer) -> None:
    gradient = np.tile(np.linspace(0, 255, 320, dtype=np.uint8), (240, 1))
    analysis = analyzer.analyze(to_png(cv2.merge([gradient, gradient, gradient])))
    assert analysis.faces == []
    assert not analysis.padded


def test_embed_crop_reproduces_analysis_embeddings(analyzer: FaceAnalyzer, t1: Analysis) -> None:
    for face in t1.faces:
        np.testing.assert_allclose(analyzer.embed_crop(face.crop), face.embedding, atol=1e-5)
    with pytest.raises(ValueError):
        analyzer.embed_crop(np.zeros((100, 100, 3), dtype=np.uint8))


def test_embedding_is_the_mean_of_the_face_and_its_mirror_each_embedded_alone(
    analyzer: FaceAnalyzer, t1: Analysis
) -> None:
    # the pipeline sends a face and its mirror image in one call: the same as two calls
    recognizer = analyzer._recognizer
    for face in t1.faces:
        alone = [recognizer.get_feat([img])[0] for img in (face.crop, face.crop[:, ::-1].copy())]
        units = [v / np.linalg.norm(v) for v in alone]
        expected = (units[0] + units[1]) / np.linalg.norm(units[0] + units[1])
        np.testing.assert_allclose(face.embedding, expected, atol=1e-5)


def test_concurrent_analyses_agree_with_sequential(analyzer: FaceAnalyzer, t1: Analysis) -> None:
    data = read_bytes(T1)
    results: list[Analysis] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            results.append(analyzer.analyze(data))
        except BaseException as exc:  # surfaced in the assert below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    for result in results:
        got = np.stack([f.embedding for f in result.faces])
        np.testing.assert_allclose(got, np.stack([f.embedding for f in t1.faces]), atol=1e-5)


def test_analyze_image_rejects_non_bgr_arrays(analyzer: FaceAnalyzer) -> None:
    with pytest.raises(ValueError):
        analyzer.analyze_image(np.zeros((10, 10), dtype=np.uint8), "x")
    with pytest.raises(ValueError):
        analyzer.analyze_image(np.zeros((10, 10, 3), dtype=np.float32), "x")


# --- the same face survives what phones and messengers do to photos -------------------------


def _exif(orientation: int) -> Callable[[np.ndarray], bytes]:
    return lambda img: with_exif_orientation(img, orientation)


DERIVATIONS: dict[str, Callable[[np.ndarray], bytes]] = {
    "crop": to_jpeg,
    "flip": lambda img: to_jpeg(flip(img)),
    "half_size": lambda img: to_jpeg(resize(img, 0.5)),
    "jpeg_q40": lambda img: recompress_jpeg(img, 40),
    "exif_3": _exif(3),
    "exif_6": _exif(6),
    "exif_8": _exif(8),
    "png": to_png,
    "webp": to_webp,
}


@pytest.mark.parametrize("name", list(DERIVATIONS))
def test_derived_photo_of_a_face_matches_the_original(
    name: str, analyzer: FaceAnalyzer, t1: Analysis
) -> None:
    image = read_image(T1)
    for face in t1.faces:
        crop = crop_around(image, face.bbox, 0.6)
        analysis = analyzer.analyze(DERIVATIONS[name](crop))
        assert _best_match(analysis, face.embedding) >= SAME_FACE_COSINE, f"face {face.index}"


@pytest.mark.parametrize("orientation", [1, 2, 3, 4, 5, 6, 7, 8])
def test_exif_orientation_is_applied(orientation: int) -> None:
    image = read_image(T1)[:200, :300]
    decoded = decode_image(with_exif_orientation(image, orientation), LIMITS)
    assert decoded.shape == image.shape
    assert np.abs(decoded.astype(int) - image.astype(int)).mean() < 4


# --- rendering ----------------------------------------------------------------------------------


def test_numbered_boxes_render_as_jpeg_at_the_requested_size(t1: Analysis) -> None:
    full = decode_jpeg(draw_numbered_boxes(t1.image, t1.faces))
    assert full.shape == (886, 1280, 3)
    # Something was drawn: the boxed picture differs from the plain one.
    assert np.abs(full.astype(int) - t1.image.astype(int)).mean() > 1
    small = decode_jpeg(draw_numbered_boxes(t1.image, t1.faces, max_side=640))
    assert small.shape == (443, 640, 3)


def test_side_by_side_shows_two_labelled_faces(t1: Analysis) -> None:
    reference = encode_jpeg(t1.faces[1].crop)
    pair = decode_jpeg(side_by_side(t1.faces[0].crop, reference, "query #1", "ref face 17"))
    assert pair.shape[1] == 2 * PAIR_FACE_PX + 8
    assert pair.shape[0] > PAIR_FACE_PX
    # Labels outside ASCII must not break rendering.
    assert decode_jpeg(side_by_side(t1.faces[0].crop, reference, "запрос", "ref")).size
