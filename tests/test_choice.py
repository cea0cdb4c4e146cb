"""The face a photo is filed for, without models or database: the portrait convention, ties, the
face that agrees with the person's other photos, a face chosen by number."""

from __future__ import annotations

import numpy as np
import pytest

from facefind.enroll.choice import choose_face
from facefind.errors import AmbiguousFaces, FaceIndexOutOfRange, NoFaceFound
from recognition import DetectedFace, Quality


def placed(
    index: int, size: float, cx: float, cy: float, embedding: np.ndarray | None = None
) -> DetectedFace:
    """A detected face of side `size` centred at (cx, cy)."""
    q = Quality(True, (), int(size), 0.9, 100.0, 0.0, 0.0)
    box = (cx - size / 2, cy - size / 2, cx + size / 2, cy + size / 2)
    emb = np.zeros(512, np.float32) if embedding is None else embedding
    return DetectedFace(
        index, box, np.zeros((5, 2), np.float32), 0.9, q, np.zeros((112, 112, 3), np.uint8), emb
    )


def photo(
    *faces: DetectedFace, index: int | None = None, reference: np.ndarray | None = None
) -> tuple[DetectedFace, str]:
    """The face a 1000 x 800 photo with these faces is filed for."""
    return choose_face(sorted(faces, key=lambda f: f.index), 1000, 800, index, reference)


def test_a_portrait_with_a_bystander_is_filed_for_the_portrait() -> None:
    # the subject fills the centre; a bystander of nearly the same size stands at the edge
    subject, bystander = placed(1, 300, 500, 400), placed(2, 260, 880, 150)
    assert photo(subject, bystander) == (subject, "prominent")
    # a smaller subject in the centre still beats a larger face in the corner
    big_corner, centre = placed(1, 320, 140, 120), placed(2, 240, 520, 420)
    assert photo(big_corner, centre) == (centre, "prominent")


def test_two_equal_faces_side_by_side_are_a_tie() -> None:
    left, right = placed(1, 200, 350, 400), placed(2, 195, 650, 400)
    with pytest.raises(AmbiguousFaces):
        photo(left, right)
    assert photo(left, right, index=2) == (right, "index")


def test_the_face_that_agrees_with_the_persons_other_photos_wins_a_tie() -> None:
    rng = np.random.default_rng(1)
    me = rng.normal(size=512).astype(np.float32)
    me /= np.linalg.norm(me)
    other = rng.normal(size=512).astype(np.float32)
    other /= np.linalg.norm(other)
    left, right = placed(1, 200, 350, 400, other), placed(2, 195, 650, 400, me)
    assert photo(left, right, reference=me) == (right, "agrees")
    # a reference that matches neither face does not decide: the tie stays a tie
    stranger = rng.normal(size=512).astype(np.float32)
    with pytest.raises(AmbiguousFaces):
        photo(left, right, reference=stranger)


def test_choosing_the_face_to_enroll() -> None:
    big = placed(1, 200, 500, 400)
    assert photo(big) == (big, "only")
    with pytest.raises(FaceIndexOutOfRange):
        photo(big, index=3)
    with pytest.raises(NoFaceFound):
        photo()
