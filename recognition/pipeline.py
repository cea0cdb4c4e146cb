"""Image to faces: decode, detect, align, embed and judge quality with one loaded model pack."""

from __future__ import annotations

import hashlib
import logging
import threading
import time
import warnings
from dataclasses import dataclass

import cv2
import numpy as np

from recognition.decode import decode_image
from recognition.models import EMBEDDING_DIM, RECOGNIZER_INPUT_PX, load_models
from recognition.quality import assess
from recognition.types import Analysis, DetectedFace, Limits, ModelPack

logger = logging.getLogger(__name__)

# SCRFD runs at two square input sizes and merges the boxes (insightface 2.1 does the same by
# default with 128 and 640). The 128 pass finds faces that fill the frame, such as ID photos and
# aligned crops, which the detector misses when they are upscaled. Small images get 320 instead
# of 640 for the second pass: on 1,200 LFW photos (250 px) 640 found no central face that 320
# missed, at three times the detection time. Only these three sizes are used because
# insightface keeps one fixed-shape ONNX session per size for the life of the detector.
_FULL_FRAME_SIZE = (128, 128)
_SMALL_IMAGE_SIZE = (320, 320)
_LARGE_IMAGE_SIZE = (640, 640)
_SMALL_IMAGE_MAX_SIDE = 400

# When nothing is found, the image is padded on every side and searched again: a face cut
# off at the frame edge gains context. On tight LFW crops (bench/lfw_detect.py) replicated
# edge pixels find 3x more faces than a black border, and 15-25% finds more than 35-50%.
# The padded search runs on a copy at most 640 px wide (the detector's own input size) to
# bound memory. Alignment still cuts from the original image, so the parts of the crop
# outside the frame are black: that gives embeddings closer to the full photo's than
# aligning from the replicated border (median cosine 0.34 vs 0.24 on the tightest crops).
PAD_FRACTION = 0.25
PAD_BORDER = cv2.BORDER_REPLICATE
_PAD_DETECT_MAX_SIDE = 640
_MIN_SIDE_PX = 8
_MAX_ASPECT = 50

# warnings.catch_warnings swaps process-wide state and is not thread-safe: two threads
# leaving it out of order can leave a filter behind. Alignment takes ~0.1 ms, so serialising
# just this block costs nothing measurable.
_WARNINGS_LOCK = threading.Lock()

# The embedding recipe: the mean of the face's and its mirror image's unit embeddings. Stored
# with every face; a gallery embedded with another recipe must be re-embedded (facefind reembed).
EMBEDDING_RECIPE = "flip-mean"


@dataclass(frozen=True)
class _Detections:
    boxes: np.ndarray  # (N, 4) float32, x1 y1 x2 y2 in original-image coordinates
    scores: np.ndarray  # (N,) float32
    landmarks: np.ndarray  # (N, 5, 2) float32, original-image coordinates


def l2_normalize(vectors: np.ndarray) -> np.ndarray:
    """Return float32 rows scaled to unit length (zero rows stay zero)."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return (vectors / np.maximum(norms, 1e-12)).astype(np.float32)


def align_face(image: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """Return the 112x112 ArcFace-aligned crop for 5 landmarks (black outside the frame)."""
    from insightface.utils import face_align

    kps = np.asarray(landmarks, dtype=np.float32).reshape(5, 2)
    with _WARNINGS_LOCK, warnings.catch_warnings():
        # scikit-image deprecates SimilarityTransform.estimate(), which norm_crop calls.
        warnings.simplefilter("ignore", FutureWarning)
        return np.asarray(face_align.norm_crop(image, kps, RECOGNIZER_INPUT_PX))


def _detect_sizes(height: int, width: int) -> list[tuple[int, int]]:
    second = _SMALL_IMAGE_SIZE if max(height, width) <= _SMALL_IMAGE_MAX_SIDE else _LARGE_IMAGE_SIZE
    return [_FULL_FRAME_SIZE, second]


class FaceAnalyzer:
    """Finds, aligns and embeds faces; one instance is shared by a small thread pool."""

    def __init__(self, pack: ModelPack, limits: Limits, threads: int = 1) -> None:
        self.pack = pack
        self.limits = limits
        self.threads = threads
        models = load_models(pack, threads)
        self._detector = models.detector
        self._recognizer = models.recognizer
        # Configure once here: prepare() mutates the detector, so it must never run per call.
        self._detector.prepare(0, det_thresh=limits.det_threshold)
        self._warm_up()
        # Nothing on this object changes after __init__; per-call state lives in locals.

    @property
    def model_name(self) -> str:
        return self.pack.name

    def _warm_up(self) -> None:
        # insightface builds one fixed-shape session per detector input size on first use;
        # build them all now so the first user request does not pay for it.
        for shape in ((_SMALL_IMAGE_MAX_SIDE, _SMALL_IMAGE_MAX_SIDE), (720, 960)):
            self._detect(np.zeros((*shape, 3), dtype=np.uint8))
        blank = np.zeros((RECOGNIZER_INPUT_PX, RECOGNIZER_INPUT_PX, 3), dtype=np.uint8)
        self._embed([blank])

    def analyze(self, data: bytes, *, max_faces: int | None = None) -> Analysis:
        """Decode untrusted image bytes and return every face found, largest first."""
        started = time.perf_counter()
        image = decode_image(data, self.limits)
        decode_ms = (time.perf_counter() - started) * 1000.0
        sha256 = hashlib.sha256(data).hexdigest()
        analysis = self.analyze_image(image, sha256, max_faces=max_faces)
        analysis.timings_ms["decode"] = decode_ms
        analysis.timings_ms["total"] += decode_ms
        return analysis

    def analyze_image(
        self, image: np.ndarray, sha256: str, *, max_faces: int | None = None
    ) -> Analysis:
        """Return the faces of an already decoded, upright BGR image, largest first."""
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f"expected an HxWx3 uint8 BGR image, got {image.dtype} {image.shape}")
        limit = self.limits.max_faces if max_faces is None else max_faces
        if limit < 1:
            raise ValueError("max_faces must be at least 1")

        started = time.perf_counter()
        found = self._detect(image)
        padded = False
        if len(found.scores) == 0:
            found = self._detect_padded(image)
            padded = len(found.scores) > 0
        detected = time.perf_counter()

        boxes = found.boxes
        areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
        order = np.argsort(-areas, kind="stable")[:limit]
        crops = [align_face(image, found.landmarks[i]) for i in order]
        embeddings = self._embed(crops)

        height, width = image.shape[:2]
        faces: list[DetectedFace] = []
        for rank, (i, crop, embedding) in enumerate(zip(order, crops, embeddings, strict=True)):
            raw_box = tuple(float(v) for v in boxes[i])
            landmarks = found.landmarks[i].astype(np.float32)
            score = float(found.scores[i])
            faces.append(
                DetectedFace(
                    index=rank + 1,
                    # Boxes from the padded search may reach past the frame; clip for display.
                    bbox=(
                        min(max(raw_box[0], 0.0), float(width)),
                        min(max(raw_box[1], 0.0), float(height)),
                        min(max(raw_box[2], 0.0), float(width)),
                        min(max(raw_box[3], 0.0), float(height)),
                    ),
                    landmarks=landmarks,
                    det_score=score,
                    # Quality sees the unclipped box: its size is the face's, not the frame's.
                    quality=assess(
                        (raw_box[0], raw_box[1], raw_box[2], raw_box[3]),
                        landmarks,
                        score,
                        crop,
                        self.limits,
                    ),
                    crop=crop,
                    embedding=embedding,
                )
            )
        finished = time.perf_counter()
        timings = {
            "decode": 0.0,
            "detect": (detected - started) * 1000.0,
            "embed": (finished - detected) * 1000.0,
            "total": (finished - started) * 1000.0,
        }
        logger.debug(
            "analysed %dx%d image: %d faces (padded=%s) in %.0f ms",
            width,
            height,
            len(faces),
            padded,
            timings["total"],
        )
        return Analysis(
            image=image,
            sha256=sha256,
            faces=faces,
            padded=padded,
            timings_ms=timings,
            faces_left_out=max(0, len(found.scores) - limit),
        )

    def embed_crop(self, crop: np.ndarray) -> np.ndarray:
        """Return the unit-length 512-d embedding of an aligned 112x112 BGR crop."""
        return self.embed_crops([crop])[0]

    def embed_crops(self, crops: list[np.ndarray]) -> np.ndarray:
        """Embeddings of aligned 112x112 BGR crops (stored references), one batched call."""
        expected = (RECOGNIZER_INPUT_PX, RECOGNIZER_INPUT_PX, 3)
        for crop in crops:
            if crop.shape != expected or crop.dtype != np.uint8:
                raise ValueError(f"expected a {expected} uint8 crop, got {crop.dtype} {crop.shape}")
        return self._embed(list(crops))

    @property
    def embedding_recipe(self) -> str:
        """How embeddings are made from crops; embeddings of different recipes differ."""
        return EMBEDDING_RECIPE

    def _embed(self, crops: list[np.ndarray]) -> np.ndarray:
        if not crops:
            return np.empty((0, EMBEDDING_DIM), dtype=np.float32)
        # Each face and its mirror image go through the recognizer together, one session call a
        # face (outputs equal single-image calls, tested): on this CPU larger batches cost more
        # a face (t1.jpg's 6 faces: 78 ms in pairs, 96 ms in one batch of 12). The embedding is
        # the normalised sum of the two unit vectors; on LFW this lifts the genuine scores more
        # than the impostor ones.
        features = np.asarray(
            [self._recognizer.get_feat([c, np.ascontiguousarray(c[:, ::-1])]) for c in crops],
            dtype=np.float32,
        )
        both = l2_normalize(features.reshape(len(crops), 2, -1))
        return l2_normalize(both[:, 0] + both[:, 1])

    def _detect(self, image: np.ndarray) -> _Detections:
        height, width = image.shape[:2]
        if min(height, width) < _MIN_SIDE_PX or max(height, width) > _MAX_ASPECT * min(
            height, width
        ):
            # Too thin to hold a face, and SCRFD's resize to 128 px would produce a 0 px side.
            return _Detections(
                boxes=np.empty((0, 4), dtype=np.float32),
                scores=np.empty((0,), dtype=np.float32),
                landmarks=np.empty((0, 5, 2), dtype=np.float32),
            )
        boxes, kps = self._detector.detect(
            image,
            input_size=_detect_sizes(height, width),
            max_num=0,
            det_thresh=self.limits.det_threshold,
        )
        if kps is None:
            raise RuntimeError("the detector model predicts no landmarks; alignment needs them")
        return _Detections(
            boxes=np.asarray(boxes[:, :4], dtype=np.float32).reshape(-1, 4),
            scores=np.asarray(boxes[:, 4], dtype=np.float32).reshape(-1),
            landmarks=np.asarray(kps, dtype=np.float32).reshape(-1, 5, 2),
        )

    def _detect_padded(
        self, image: np.ndarray, *, fraction: float = PAD_FRACTION, border: int = PAD_BORDER
    ) -> _Detections:
        # fraction and border are parameters only so bench/lfw_detect.py can compare options.
        height, width = image.shape[:2]
        scale = min(1.0, _PAD_DETECT_MAX_SIDE / max(height, width))
        small = image
        if scale < 1.0:
            size = (max(1, round(width * scale)), max(1, round(height * scale)))
            small = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
        pad_y = round(small.shape[0] * fraction)
        pad_x = round(small.shape[1] * fraction)
        padded = cv2.copyMakeBorder(small, pad_y, pad_y, pad_x, pad_x, border, value=(0, 0, 0))
        found = self._detect(padded)
        offset = np.array([pad_x, pad_y], dtype=np.float32)
        ratio = np.array([small.shape[1] / width, small.shape[0] / height], dtype=np.float32)
        # Back to original-image coordinates; values outside the frame are kept on purpose.
        boxes = (found.boxes.reshape(-1, 2, 2) - offset) / ratio
        landmarks = (found.landmarks - offset) / ratio
        return _Detections(
            boxes=boxes.reshape(-1, 4).astype(np.float32),
            scores=found.scores,
            landmarks=landmarks.astype(np.float32),
        )
