"""The face a photo is filed for, and what makes a face a usable reference: the rules one photo
(the bot, the CLI) and a folder load share."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from facefind.errors import AmbiguousFaces, FaceIndexOutOfRange, NoFaceFound
from recognition import DetectedFace, Limits
from recognition.pipeline import FaceAnalyzer
from recognition.render import draw_numbered_boxes, encode_jpeg

# A photo with several faces is filed for its most prominent face (the portrait convention:
# large and near the centre) only when that face is clearly ahead of the next one; below this
# ratio of prominence the two are a tie, and we cannot tell who is meant.
PROMINENCE_TIE_RATIO = 1.25
# In a folder with several photos of one person, a face "agrees" with the person's other photos
# when its similarity to them is at least this and clearly above the next face's.
AGREEMENT_MIN = 0.30
AGREEMENT_MARGIN = 0.10


def reference_verdict(
    face: DetectedFace, limits: Limits
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(refusals, flags) of a face as a reference.

    Refused: only what cannot be embedded meaningfully (tiny, full profile). Flagged: usable
    but poor (small, blurry, turned, a weak detection); such a face is enrolled only when the
    person has no better reference, and marked so every match through it says so.
    """
    q = face.quality
    refused: list[str] = []
    if q.face_px < limits.enroll_hard_min_face_px:
        refused.append("small")
    if (
        abs(q.yaw) > limits.enroll_hard_max_yaw_deg
        or abs(q.pitch) > limits.enroll_hard_max_pitch_deg
    ):
        refused.append("pose")
    flags: list[str] = []
    if q.face_px < limits.enroll_min_face_px and "small" not in refused:
        flags.append("small")
    if face.det_score < limits.enroll_min_det_score:
        flags.append("low_score")
    if "blurry" in q.reasons:
        flags.append("blurry")
    if "pose" not in refused and (
        abs(q.yaw) > limits.enroll_max_yaw_deg or abs(q.pitch) > limits.enroll_max_pitch_deg
    ):
        flags.append("pose")
    return tuple(refused), tuple(flags)


def choose_face(
    faces: Sequence[DetectedFace],
    width: int,
    height: int,
    face_index: int | None = None,
    reference: np.ndarray | None = None,
) -> tuple[DetectedFace, str]:
    """The face a photo (`width` x `height`) is filed for: the one asked for by number; the
    only one; the one that agrees with the person's other photos (`reference`, their mean
    embedding); else the most prominent (large and central, the portrait convention). A real
    tie raises AmbiguousFaces."""
    if not faces:
        raise NoFaceFound("no face found")
    if face_index is not None:
        if not 1 <= face_index <= len(faces):
            raise FaceIndexOutOfRange(face_index, len(faces))
        return faces[face_index - 1], "index"
    if len(faces) == 1:
        return faces[0], "only"
    if reference is not None and (agreed := agreeing_face(faces, reference)) is not None:
        return agreed, "agrees"
    prominent = most_prominent(faces, width, height)
    if prominent is None:
        raise AmbiguousFaces(len(faces))
    return prominent, "prominent"


def prominence(face: DetectedFace, width: int, height: int) -> float:
    """How much a photo is "of" this face: its size, discounted with distance from the centre.

    The side of the face (square root of the box area) times a weight that falls from 1 at the
    centre to 0.25 at a corner: a portrait's subject beats a larger bystander at the edge, and
    a poster face behind the subject loses on both counts.
    """
    x1, y1, x2, y2 = face.bbox
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    half_diagonal = math.hypot(width, height) / 2 or 1.0
    off = min(1.0, math.hypot(cx - width / 2, cy - height / 2) / half_diagonal)
    return math.sqrt(face.area) * (1.0 - 0.75 * off)


def most_prominent(faces: Sequence[DetectedFace], width: int, height: int) -> DetectedFace | None:
    """The face a photo is filed for by the portrait convention; None on a real tie."""
    if not faces:
        return None
    ranked = sorted(faces, key=lambda f: (-prominence(f, width, height), f.index))
    if len(ranked) == 1:
        return ranked[0]
    first, second = (prominence(f, width, height) for f in ranked[:2])
    return ranked[0] if first >= PROMINENCE_TIE_RATIO * second else None


def agreeing_face(faces: Sequence[DetectedFace], reference: np.ndarray) -> DetectedFace | None:
    """The one face that clearly matches a person's other photos (their mean embedding)."""
    if not faces:
        return None
    ref = np.asarray(reference, dtype=np.float64)
    ref = ref / (np.linalg.norm(ref) or 1.0)
    scored = sorted(
        ((float(np.dot(np.asarray(f.embedding, dtype=np.float64), ref)), f) for f in faces),
        key=lambda sf: -sf[0],
    )
    best_sim, best = scored[0]
    runner_up = scored[1][0] if len(scored) > 1 else -1.0
    if best_sim >= AGREEMENT_MIN and best_sim - runner_up >= AGREEMENT_MARGIN:
        return best
    return None


@dataclass(frozen=True)
class PhotoFaces:
    """One analysed photo of a folder load: its faces and their aligned crops (JPEG), and a
    picture with numbered boxes when it has several faces. The photo itself is not kept."""

    path: str
    sha256: str
    width: int
    height: int
    faces: list[DetectedFace]
    crops: list[bytes]
    overview: bytes | None = None


@dataclass
class PersonPlan:
    """What to do with one person's photos (see `plan_person`)."""

    good: list[tuple[PhotoFaces, DetectedFace, str]] = field(default_factory=list)
    # poor faces, kept only if the person has no good reference (flags say why they are poor)
    poor: list[tuple[PhotoFaces, DetectedFace, str, tuple[str, ...]]] = field(default_factory=list)
    ties: list[tuple[str, int, bytes]] = field(default_factory=list)
    refused: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)

    @property
    def faces(self) -> list[tuple[PhotoFaces, DetectedFace, str, tuple[str, ...]]]:
        """The references to enroll: the good faces, else the poor ones, flagged."""
        if self.good:
            return [(p, f, c, ()) for p, f, c in self.good]
        return list(self.poor)


def plan_person(
    photos: Sequence[PhotoFaces],
    reference: np.ndarray | None,
    has_good: bool,
    limits: Limits,
) -> PersonPlan:
    """Enroll a person's photos so that nobody is left out silently.

    In a photo with several faces the one that agrees with the person's other photos (their
    single-face photos, or the identity's template: `reference`) is enrolled, else the most
    prominent; only a real tie is skipped, with its numbered picture for the admin. Good faces
    are enrolled; poor ones, flagged, only when the person has no better one (`has_good`: the
    identity already has a good reference).
    """
    if reference is None:
        singles = [p.faces[0].embedding for p in photos if len(p.faces) == 1]
        if singles:
            reference = np.mean(np.stack(singles), axis=0)
    plan = PersonPlan()
    for photo in photos:
        try:
            face, chosen_by = choose_face(photo.faces, photo.width, photo.height, None, reference)
        except NoFaceFound:
            plan.skipped.append((photo.path, "no face found"))
            continue
        except AmbiguousFaces as exc:
            plan.ties.append((photo.path, exc.count, photo.overview or b""))
            continue
        refused, flags = reference_verdict(face, limits)
        if refused:
            plan.refused.append((photo.path, refused))
        elif flags:
            plan.poor.append((photo, face, chosen_by, flags))
        else:
            plan.good.append((photo, face, chosen_by))
    if plan.poor and (has_good or plan.good):
        for photo, _, _, flags in plan.poor:
            why = "low quality (" + ", ".join(flags) + "); a better reference exists"
            plan.skipped.append((photo.path, why))
        plan.poor = []
    return plan


def photo_faces(analyzer: FaceAnalyzer, path: str, data: bytes) -> PhotoFaces:
    """Analyse one photo of a folder load (in a worker process or the inference pool)."""
    analysis = analyzer.analyze(data)
    overview = (
        draw_numbered_boxes(analysis.image, analysis.faces) if len(analysis.faces) > 1 else None
    )
    return PhotoFaces(
        path=path,
        sha256=analysis.sha256,
        width=analysis.width,
        height=analysis.height,
        faces=analysis.faces,
        crops=[encode_jpeg(f.crop, quality=92) for f in analysis.faces],
        overview=overview,
    )
