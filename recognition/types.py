"""Small typed structures passed out of the recognition pipeline."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class Limits:
    """Input and quality limits; built once from settings at the entry point."""

    max_image_bytes: int = 20 * 1024 * 1024
    max_pixels: int = 40_000_000
    max_faces: int = 10
    det_threshold: float = 0.5
    # quality verdict: a face failing any of these is still searched but flagged
    min_face_px: int = 40
    min_det_score: float = 0.6
    # Laplacian variance of the aligned crop; on LFW this flags 0.7% of faces as they are, 92%
    # after a Gaussian blur of sigma 2 and all after sigma 3 (40 would flag 1.6% and 98%).
    min_blur: float = 30.0
    max_yaw_deg: float = 45.0
    max_pitch_deg: float = 35.0
    # enrollment flags a reference below these (stricter than search): a flagged face is
    # enrolled only when the person has no better reference, and every candidate matched
    # through it says so
    enroll_min_face_px: int = 60
    enroll_min_det_score: float = 0.6
    # pose estimates from 5 landmarks are good to about +-10 degrees: a three-quarter view
    # (flagged in a search) is still a good reference, a near-profile is a poor one
    enroll_max_yaw_deg: float = 65.0
    enroll_max_pitch_deg: float = 45.0
    # enrollment refuses only what cannot be embedded meaningfully: a face this small (the
    # recognizer would upscale it more than 4x) or a full profile (one eye hidden)
    enroll_hard_min_face_px: int = 24
    enroll_hard_max_yaw_deg: float = 80.0
    enroll_hard_max_pitch_deg: float = 60.0


@dataclass(frozen=True)
class VideoLimits:
    """Limits on clips (videos, video notes, GIF animations) and how they are sampled."""

    max_bytes: int = 50 * 1024 * 1024
    # Telegram's video notes last at most 60 s (a container may declare a little more); a
    # longer clip is refused, not cut
    max_seconds: float = 61.0
    # one frame's width x height: Full HD; phones send larger video only as files
    max_frame_pixels: int = 1920 * 1080
    # frames decoded in all (every frame is decoded, sampled or not): 60 s at 60 fps
    max_decoded_frames: int = 3600
    # frames analysed a second; a clip that would give more than max_samples is sampled more
    # sparsely, evenly over its whole length
    sample_fps: float = 2.0
    max_samples: int = 120
    # people kept from one clip (the most often seen first), and the best frames of each fused
    max_people: int = 10
    best_frames: int = 5


@dataclass(frozen=True)
class ModelPack:
    """A detector + recognizer pair and their identity (name and file hashes)."""

    name: str
    detector_path: Path
    recognizer_path: Path
    detector_sha256: str
    recognizer_sha256: str


@dataclass(frozen=True)
class Quality:
    ok: bool
    reasons: tuple[str, ...]  # stable codes: "small", "low_score", "blurry", "pose"
    face_px: int  # shorter side of the detected box, in pixels of the oriented image
    det_score: float
    blur: float  # variance of the Laplacian on the aligned grey crop (higher is sharper)
    yaw: float  # degrees, estimated from the 5 landmarks; 0 is frontal
    pitch: float

    def as_dict(self) -> dict[str, object]:
        return {
            "ok": self.ok,
            "reasons": list(self.reasons),
            "face_px": self.face_px,
            "det_score": round(self.det_score, 4),
            "blur": round(self.blur, 1),
            "yaw": round(self.yaw, 1),
            "pitch": round(self.pitch, 1),
        }


@dataclass(frozen=True, eq=False)
class DetectedFace:
    index: int  # 1-based, largest face first
    bbox: tuple[float, float, float, float]  # x1, y1, x2, y2 in the oriented image
    landmarks: np.ndarray  # (5, 2) float32, oriented-image coordinates
    det_score: float
    quality: Quality
    crop: np.ndarray  # aligned 112x112x3 BGR uint8
    embedding: np.ndarray  # (512,) float32, L2-normalised

    @property
    def area(self) -> float:
        x1, y1, x2, y2 = self.bbox
        return max(0.0, x2 - x1) * max(0.0, y2 - y1)


@dataclass(frozen=True, eq=False)
class Analysis:
    image: np.ndarray  # the decoded, EXIF-oriented BGR image
    sha256: str  # of the original bytes
    faces: list[DetectedFace]
    padded: bool  # faces were only found after padding the image
    timings_ms: dict[str, float] = field(default_factory=dict)  # decode, detect, embed
    faces_left_out: int = 0  # faces found beyond the limit (the smallest): not analysed

    @property
    def width(self) -> int:
        return int(self.image.shape[1])

    @property
    def height(self) -> int:
        return int(self.image.shape[0])
