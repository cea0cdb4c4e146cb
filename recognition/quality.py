"""Face quality verdict: size, detector confidence, sharpness and head pose from 5 landmarks."""

from __future__ import annotations

import math

import cv2
import numpy as np

from recognition.types import Limits, Quality

# Head-pose approximation from the 5 SCRFD landmarks (left eye, right eye, nose tip, left and
# right mouth corner), in a frame rotated so the eyes lie on a horizontal line (removes roll).
# Distances are in units of the true inter-ocular distance (IOD). A generic head has the nose
# tip about NOSE_DEPTH IOD in front of the eye/mouth plane, and NOSE_DROP IOD below the eye line
# when seen frontally (the value is the median over LFW; the ArcFace template gives 0.57).
# - yaw: turning by t moves the nose sideways by NOSE_DEPTH*sin(t) while the eyes shrink to
#   cos(t), so the nose offset from the face midline (through the eye and mouth midpoints)
#   over the projected IOD is NOSE_DEPTH*tan(t).
# - pitch: the nose's drop below the eye line is NOSE_DROP*cos(p) + NOSE_DEPTH*sin(p) (positive p
#   is chin down); the projected IOD is first corrected for yaw foreshortening. That curve
#   peaks at atan(NOSE_DEPTH/NOSE_DROP) ~ 41 degrees; a drop beyond its maximum is mapped on
#   linearly (NOSE_DEPTH IOD per radian) so the estimate stays monotonic.
# The mouth corners are not used for pitch: smiles and open mouths move them far more than
# pitch does. On LFW (5,000 faces) this flags about 1% of faces on each of yaw > 45 and
# pitch > 35; individual anatomy makes single estimates good to roughly +-10 degrees only.
NOSE_DEPTH = 0.45
NOSE_DROP = 0.52


def face_size_px(bbox: tuple[float, float, float, float]) -> int:
    """Return the shorter side of a detector box, in pixels."""
    x1, y1, x2, y2 = bbox
    return round(max(0.0, min(x2 - x1, y2 - y1)))


def blur_score(crop: np.ndarray) -> float:
    """Return the variance of the Laplacian of the grey crop (higher is sharper)."""
    grey = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY) if crop.ndim == 3 else crop
    return float(cv2.Laplacian(grey, cv2.CV_64F).var())


def estimate_pose(landmarks: np.ndarray) -> tuple[float, float]:
    """Return (yaw, pitch) in degrees from 5 landmarks; 0, 0 is frontal (see module notes)."""
    pts = np.asarray(landmarks, dtype=np.float64).reshape(5, 2)
    left_eye, right_eye = pts[0], pts[1]
    eye_vec = right_eye - left_eye
    iod = float(np.hypot(eye_vec[0], eye_vec[1]))
    if iod < 1e-6:
        # Both eyes on one point: a degenerate detection, treat as a full profile.
        return 90.0, 0.0
    roll = math.atan2(eye_vec[1], eye_vec[0])
    cos_r, sin_r = math.cos(-roll), math.sin(-roll)
    rotation = np.array([[cos_r, -sin_r], [sin_r, cos_r]])
    # Origin at the eye midpoint, x along the eye line, y downwards.
    local = (pts - (left_eye + right_eye) / 2.0) @ rotation.T
    nose = local[2]
    mouth_mid = (local[3] + local[4]) / 2.0

    # The face midline runs from the eye midpoint (origin) to the mouth midpoint.
    midline_x = nose[1] / mouth_mid[1] * mouth_mid[0] if abs(mouth_mid[1]) > 1e-6 else 0.0
    yaw = math.degrees(math.atan((nose[0] - midline_x) / iod / NOSE_DEPTH))

    true_iod = iod / max(math.cos(math.radians(yaw)), 0.1)
    drop = nose[1] / true_iod
    amplitude = math.hypot(NOSE_DROP, NOSE_DEPTH)
    peak = math.atan2(NOSE_DEPTH, NOSE_DROP)
    if drop <= amplitude:
        pitch = peak - math.acos(max(-1.0, drop / amplitude))
    else:
        # Past the model's maximum: keep the estimate growing so thresholds above the peak
        # still separate a slight from a steep downward look.
        pitch = peak + (drop - amplitude) / NOSE_DEPTH
    return yaw, max(-90.0, min(90.0, math.degrees(pitch)))


def assess(
    bbox: tuple[float, float, float, float],
    landmarks: np.ndarray,
    det_score: float,
    crop: np.ndarray,
    limits: Limits,
) -> Quality:
    """Judge whether a detected face is good enough to trust a search or an enrollment."""
    face_px = face_size_px(bbox)
    blur = blur_score(crop)
    yaw, pitch = estimate_pose(landmarks)
    reasons: list[str] = []
    if face_px < limits.min_face_px:
        reasons.append("small")
    if det_score < limits.min_det_score:
        reasons.append("low_score")
    if blur < limits.min_blur:
        reasons.append("blurry")
    if abs(yaw) > limits.max_yaw_deg or abs(pitch) > limits.max_pitch_deg:
        reasons.append("pose")
    return Quality(
        ok=not reasons,
        reasons=tuple(reasons),
        face_px=face_px,
        det_score=float(det_score),
        blur=blur,
        yaw=yaw,
        pitch=pitch,
    )


# quality_score: a face this size fills the recognizer's 112 px input (larger gains nothing), and
# from this sharpness on (4x the blur flag's Laplacian variance) it counts as fully sharp.
FULL_SIZE_PX = 112
FULL_SHARPNESS = 120.0


def quality_score(quality: Quality) -> float:
    """Rank faces of one person for the best picture and the best frames to fuse.

    A face without quality flags always ranks above a flagged one (the score is 1 + x against
    x, with x in [0, 1]); within each, x is the detector's confidence times the size, the
    sharpness and the frontality, each as a share of what the recognizer can use."""
    size = min(1.0, quality.face_px / FULL_SIZE_PX)
    sharpness = min(1.0, max(0.0, quality.blur) / FULL_SHARPNESS)
    frontal = max(0.0, math.cos(math.radians(quality.yaw)) * math.cos(math.radians(quality.pitch)))
    x = max(0.0, min(1.0, quality.det_score)) * size * sharpness * frontal
    return (1.0 if quality.ok else 0.0) + x
