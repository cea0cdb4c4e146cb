"""Embed a labelled photo folder (LFW layout) with the production FaceAnalyzer, cached in /tmp."""

from __future__ import annotations

import hashlib
import math
import os
import sys
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

import recognition
from recognition import ImageError, Limits
from recognition.models import EMBEDDING_DIM, resolve_model_pack
from recognition.pipeline import EMBEDDING_RECIPE, FaceAnalyzer

REPO_ROOT = Path(__file__).resolve().parents[1]
# Images are embedded in batches of this many, and the cache is saved after each batch, so an
# interrupted run loses at most one batch.
SAVE_EVERY = 1000
CACHE_VERSION = 3
# Modules of recognition/ that cannot change an embedding: a change there keeps the cache.
_NOT_EMBEDDING = {"render.py", "video.py", "grouping.py"}


# --- embedding (worker processes) -----------------------------------------------------------------
@dataclass(frozen=True)
class ImageRecord:
    """What one photo contributes: the embedding and quality of its labelled (central) face."""

    path: str  # relative to the photo folder
    faces: int  # faces found; 0 when none (or the image could not be read)
    embedding: np.ndarray  # (512,) float32; zeros when no face
    quality_ok: bool
    reasons: str  # quality reason codes joined by ",", or "error:<code>" for unreadable images
    central_is_largest: bool
    padded: bool


_analyzer: FaceAnalyzer | None = None
_root: Path | None = None


def _init_worker(model_dir: Path | None, root: Path) -> None:
    global _analyzer, _root
    # One ONNX thread per process: the processes already share out the cores.
    _analyzer = FaceAnalyzer(resolve_model_pack(model_dir), Limits(), threads=1)
    _root = root


def central_face_index(boxes: Sequence[tuple[float, float, float, float]], w: int, h: int) -> int:
    """Index of the box whose centre is nearest the image centre (LFW's labelled person)."""
    distances = [math.hypot((x1 + x2 - w) / 2, (y1 + y2 - h) / 2) for x1, y1, x2, y2 in boxes]
    return int(np.argmin(distances))


def _embed_image(path: str) -> ImageRecord:
    assert _analyzer is not None and _root is not None
    try:
        # No face limit: the labelled person need not be among the 10 largest faces.
        analysis = _analyzer.analyze((_root / path).read_bytes(), max_faces=1000)
    except ImageError as exc:
        zeros = np.zeros(EMBEDDING_DIM, dtype=np.float32)
        return ImageRecord(path, 0, zeros, False, f"error:{exc.code}", False, False)
    if not analysis.faces:
        zeros = np.zeros(EMBEDDING_DIM, dtype=np.float32)
        return ImageRecord(path, 0, zeros, False, "", False, analysis.padded)
    i = central_face_index([f.bbox for f in analysis.faces], analysis.width, analysis.height)
    face = analysis.faces[i]
    return ImageRecord(
        path=path,
        faces=len(analysis.faces),
        embedding=face.embedding.astype(np.float32),
        quality_ok=face.quality.ok,
        reasons=",".join(face.quality.reasons),
        central_is_largest=i == 0,
        padded=analysis.padded,
    )


# --- cache ----------------------------------------------------------------------------------------
@dataclass
class EmbeddingSet:
    """Per-image records as parallel arrays, looked up by relative path."""

    paths: np.ndarray  # (N,) str
    faces: np.ndarray  # (N,) int
    vectors: np.ndarray  # (N, 512) float32
    quality_ok: np.ndarray  # (N,) bool
    reasons: np.ndarray  # (N,) str
    central_is_largest: np.ndarray  # (N,) bool
    padded: np.ndarray  # (N,) bool

    def __post_init__(self) -> None:
        self.index = {str(p): i for i, p in enumerate(self.paths)}

    @classmethod
    def from_records(cls, records: Iterable[ImageRecord]) -> EmbeddingSet:
        rows = sorted(records, key=lambda r: r.path)
        return cls(
            paths=np.array([r.path for r in rows], dtype=str),
            faces=np.array([r.faces for r in rows], dtype=np.int32),
            vectors=np.stack([r.embedding for r in rows]).astype(np.float32)
            if rows
            else np.empty((0, EMBEDDING_DIM), dtype=np.float32),
            quality_ok=np.array([r.quality_ok for r in rows], dtype=bool),
            reasons=np.array([r.reasons for r in rows], dtype=str),
            central_is_largest=np.array([r.central_is_largest for r in rows], dtype=bool),
            padded=np.array([r.padded for r in rows], dtype=bool),
        )

    def records(self) -> list[ImageRecord]:
        return [
            ImageRecord(
                str(self.paths[i]),
                int(self.faces[i]),
                self.vectors[i],
                bool(self.quality_ok[i]),
                str(self.reasons[i]),
                bool(self.central_is_largest[i]),
                bool(self.padded[i]),
            )
            for i in range(len(self.paths))
        ]


def recognition_source_sha256() -> str:
    """Hash of the recognition package's code: detection, alignment and quality rules."""
    digest = hashlib.sha256()
    for path in sorted(Path(recognition.__file__).parent.glob("*.py")):
        if path.name in _NOT_EMBEDDING:
            continue
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def cache_identity(model_dir: Path | None) -> dict[str, str]:
    """What the cached results depend on: model files, recognition code and quality limits."""
    pack = resolve_model_pack(model_dir)
    return {
        "version": str(CACHE_VERSION),
        "model": pack.name,
        "detector_sha256": pack.detector_sha256,
        "recognizer_sha256": pack.recognizer_sha256,
        "recipe": EMBEDDING_RECIPE,
        # Any change to the pipeline (padding, alignment, quality rules) can move the numbers.
        "recognition_sha256": recognition_source_sha256(),
        "limits": repr(Limits()),
    }


def load_cache(path: Path, identity: dict[str, str]) -> EmbeddingSet | None:
    """The cached set, or None when there is none or it was made with other models or code."""
    if not path.is_file():
        return None
    with np.load(path, allow_pickle=False) as data:
        stored = {key: str(data[f"meta_{key}"]) for key in identity if f"meta_{key}" in data}
        if stored != identity:
            changed = ", ".join(sorted(k for k in identity if stored.get(k) != identity[k]))
            print(f"cache {path} is out of date ({changed}); recomputing", file=sys.stderr)
            return None
        return EmbeddingSet(
            paths=data["paths"],
            faces=data["faces"],
            vectors=data["vectors"],
            quality_ok=data["quality_ok"],
            reasons=data["reasons"],
            central_is_largest=data["central_is_largest"],
            padded=data["padded"],
        )


def save_cache(path: Path, identity: dict[str, str], emb: EmbeddingSet) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.npz")
    arrays: dict[str, Any] = {f"meta_{key}": np.array(value) for key, value in identity.items()}
    arrays.update(
        paths=emb.paths,
        faces=emb.faces,
        vectors=emb.vectors,
        quality_ok=emb.quality_ok,
        reasons=emb.reasons,
        central_is_largest=emb.central_is_largest,
        padded=emb.padded,
    )
    np.savez(tmp, **arrays)
    # Replace in one step: an interrupted save never leaves a truncated cache behind.
    os.replace(tmp, path)


def embed_all(
    root: Path,
    paths: list[str],
    cache: Path,
    identity: dict[str, str],
    model_dir: Path | None,
    workers: int,
) -> EmbeddingSet:
    """Embeddings for `paths`, computing only those missing from the cache."""
    cached = load_cache(cache, identity)
    have = {r.path: r for r in cached.records()} if cached is not None else {}
    todo = [p for p in paths if p not in have]
    if todo:
        print(
            f"embedding {len(todo)} images ({len(have)} cached), {workers} workers", file=sys.stderr
        )
        started = time.perf_counter()
        with (
            ProcessPoolExecutor(
                workers, initializer=_init_worker, initargs=(model_dir, root)
            ) as pool,
            tqdm(total=len(todo), unit="img", mininterval=5, file=sys.stderr) as bar,
        ):
            for start in range(0, len(todo), SAVE_EVERY):
                batch = todo[start : start + SAVE_EVERY]
                for record in pool.map(_embed_image, batch, chunksize=8):
                    have[record.path] = record
                    bar.update()
                save_cache(cache, identity, EmbeddingSet.from_records(have.values()))
        elapsed = time.perf_counter() - started
        print(f"embedded {len(todo)} images in {elapsed:.0f} s", file=sys.stderr)
    wanted = set(paths)
    return EmbeddingSet.from_records(r for p, r in have.items() if p in wanted)


def list_people(root: Path, max_people: int = 0) -> dict[str, list[str]]:
    """Person -> relative photo paths, for a folder of <Person>/<photos>.jpg."""
    people: dict[str, list[str]] = {}
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        photos = sorted(f"{folder.name}/{f.name}" for f in folder.glob("*.jpg"))
        if photos:
            people[folder.name] = photos
        if max_people and len(people) >= max_people:
            break
    return people


def checked_cache_path(cache: Path) -> Path:
    """The cache path, refused inside the repository: embeddings of faces are biometric data."""
    cache = cache.resolve()
    if cache.is_relative_to(REPO_ROOT):
        sys.exit(f"cache {cache} is inside the repository; put it elsewhere (e.g. /tmp)")
    return cache
