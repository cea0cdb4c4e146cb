"""Calibrate the strong/possible similarity thresholds of a model pack on labelled photos (LFW)."""

from __future__ import annotations

import argparse
import hashlib
import math
import os
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

import recognition
from facefind.settings import FALLBACK_THRESHOLDS
from recognition import ImageError, Limits
from recognition.models import EMBEDDING_DIM, resolve_model_pack
from recognition.pipeline import FaceAnalyzer

REPO_ROOT = Path(__file__).resolve().parents[1]
# Thresholds in hundredths, so 0.35 and 0.50 are exactly the values settings.py holds.
DEFAULT_THRESHOLDS = [n / 100 for n in range(25, 71, 5)]
# FPIR targets for the held-out check: "possible" may name a wrong person for at most 1% of
# people who are not enrolled, "strong" for at most 0.1%.
TARGETS = {"possible": 0.01, "strong": 0.001}
PAIR_PERCENTILES = (1, 5, 25, 50, 75, 95, 99)
# FPIR grows with the gallery: measured on random subsets of the gallery, then projected to
# larger galleries from the per-comparison false match rate.
GALLERY_SIZES = (100, 300, 600)
PROJECTED_SIZES = (5_000, 10_000)
SIZE_THRESHOLDS = (0.35, 0.40, 0.45, 0.50, 0.55)
# Images are embedded in batches of this many, and the cache is saved after each batch, so an
# interrupted run loses at most one batch.
SAVE_EVERY = 1000
CACHE_VERSION = 2


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


# --- the 1:N protocol -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Protocol:
    """Gallery (first usable photo of each person with 2+ photos) and mated/non-mated probes."""

    gallery_names: list[str]
    gallery_files: list[str]
    gallery: np.ndarray  # (G, 512) float64
    gallery_flagged: int  # gallery faces whose quality verdict is "flagged"
    gallery_later_photo: int  # people whose first photo had no face, enrolled from a later one
    not_enrolled: int  # people with 2+ photos and no face in any
    mated: np.ndarray  # (M, 512) float64
    mated_truth: np.ndarray  # (M,) index into the gallery
    mated_ok: np.ndarray  # (M,) bool, quality verdict
    mated_files: list[str]
    mated_no_face: int
    nonmated: np.ndarray  # (N, 512) float64
    nonmated_ok: np.ndarray
    nonmated_files: list[str]
    nonmated_no_face: int


def build_protocol(
    people: dict[str, list[str]], emb: EmbeddingSet, names: Iterable[str]
) -> Protocol:
    has_face = emb.faces > 0
    g_names: list[str] = []
    g_files: list[str] = []
    g_rows: list[int] = []
    later = not_enrolled = 0
    m_rows: list[int] = []
    m_truth: list[int] = []
    m_no_face = 0
    n_rows: list[int] = []
    n_no_face = 0
    for name in sorted(names):
        rows = [emb.index[p] for p in people[name]]
        if len(rows) == 1:
            if has_face[rows[0]]:
                n_rows.append(rows[0])
            else:
                n_no_face += 1
            continue
        usable = [k for k, row in enumerate(rows) if has_face[row]]
        if not usable:
            not_enrolled += 1
            continue
        # The protocol enrolls the first photo; when it has no face, the next one with a face
        # (an operator would pick another photo too).
        first = usable[0]
        later += first > 0
        m_no_face += first  # the photos before it have no face
        g_names.append(name)
        g_files.append(str(emb.paths[rows[first]]))
        g_rows.append(rows[first])
        for row in rows[first + 1 :]:
            if has_face[row]:
                m_rows.append(row)
                m_truth.append(len(g_rows) - 1)
            else:
                m_no_face += 1
    # float64, as the gallery re-scores: threshold comparisons must not flip on rounding.
    vectors = emb.vectors.astype(np.float64)
    return Protocol(
        gallery_names=g_names,
        gallery_files=g_files,
        gallery=vectors[g_rows],
        gallery_flagged=int((~emb.quality_ok[g_rows]).sum()),
        gallery_later_photo=later,
        not_enrolled=not_enrolled,
        mated=vectors[m_rows],
        mated_truth=np.array(m_truth, dtype=np.int64),
        mated_ok=emb.quality_ok[m_rows],
        mated_files=[str(emb.paths[r]) for r in m_rows],
        mated_no_face=m_no_face,
        nonmated=vectors[n_rows],
        nonmated_ok=emb.quality_ok[n_rows],
        nonmated_files=[str(emb.paths[r]) for r in n_rows],
        nonmated_no_face=n_no_face,
    )


@dataclass(frozen=True)
class Scores:
    """Exact cosine search results of every probe against the whole gallery."""

    mated_top: np.ndarray  # (M,) gallery index of the nearest identity
    mated_top_sim: np.ndarray
    mated_wrong_sim: np.ndarray  # (M,) best similarity among the *other* identities
    nonmated_top: np.ndarray
    nonmated_top_sim: np.ndarray
    truth: np.ndarray  # (M,) the gallery index of each mated probe's own identity

    @property
    def mated_correct(self) -> np.ndarray:
        return self.mated_top == self.truth


def search(p: Protocol) -> Scores:
    mated = p.mated @ p.gallery.T
    nonmated = p.nonmated @ p.gallery.T
    rows = np.arange(len(p.mated_truth))
    wrong = mated.copy()
    wrong[rows, p.mated_truth] = -np.inf
    return Scores(
        mated_top=mated.argmax(axis=1),
        mated_top_sim=mated.max(axis=1),
        mated_wrong_sim=wrong.max(axis=1) if len(p.gallery) > 1 else np.full(len(rows), -1.0),
        nonmated_top=nonmated.argmax(axis=1),
        nonmated_top_sim=nonmated.max(axis=1),
        truth=p.mated_truth,
    )


def tpir(s: Scores, t: float, mask: np.ndarray | None = None) -> tuple[float, int, int]:
    """Share (and counts) of mated probes whose top-1 is the right identity at similarity >= t."""
    found = s.mated_correct & (s.mated_top_sim >= t)
    if mask is not None:
        found = found[mask]
    return _share(int(found.sum()), len(found))


def fpir(s: Scores, t: float, mask: np.ndarray | None = None) -> tuple[float, int, int]:
    """Share (and counts) of non-mated probes given any candidate at similarity >= t."""
    false = s.nonmated_top_sim >= t
    if mask is not None:
        false = false[mask]
    return _share(int(false.sum()), len(false))


def _share(k: int, n: int) -> tuple[float, int, int]:
    return (k / n if n else float("nan"), k, n)


def wilson_upper(k: int, n: int, z: float = 1.96) -> float:
    """Upper end of the 95% Wilson interval for k successes in n trials."""
    if n == 0:
        return float("nan")
    p = k / n
    centre = p + z * z / (2 * n)
    spread = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return (centre + spread) / (1 + z * z / n)


def threshold_for_fpir(nonmated_top_sim: np.ndarray, target: float) -> float:
    """Lowest threshold (in 0.001 steps) whose FPIR on these probes is at most `target`."""
    scores = np.sort(nonmated_top_sim)[::-1]
    allowed = math.floor(target * len(scores) + 1e-9)
    if allowed >= len(scores):
        return 0.0
    # Strictly above the (allowed+1)-th highest score, so at most `allowed` probes reach it.
    return math.floor(scores[allowed] * 1000) / 1000 + 0.001


# --- report ---------------------------------------------------------------------------------------
def pct(x: float, digits: int = 2) -> str:
    return "n/a" if math.isnan(x) else f"{100 * x:.{digits}f}%"


def counted(share: tuple[float, int, int], digits: int = 2) -> str:
    value, k, _n = share
    return f"{pct(value, digits)} ({k})"


def table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A Markdown table, ready to paste into docs/calibration.md."""
    body = ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    if not body:
        return "(none)"
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return "\n".join(lines + body)


def person_of(path: str) -> str:
    return path.split("/", 1)[0]


def report_dataset(root: Path, emb: EmbeddingSet, people: dict[str, list[str]]) -> None:
    n = len(emb.paths)
    found = emb.faces > 0
    errors = sum(str(r).startswith("error:") for r in emb.reasons)
    multi = int((emb.faces > 1).sum())
    not_largest = int((found & ~emb.central_is_largest).sum())
    flagged = found & ~emb.quality_ok
    reasons = Counter(code for r in emb.reasons[flagged] for code in str(r).split(",") if code)
    print(f"## Photos: {root}\n")
    print(
        f"- {len(people)} people, {n} images; "
        f"{sum(len(v) >= 2 for v in people.values())} people with 2+ images"
    )
    print(
        f"- no face found: {n - int(found.sum())} images ({pct(1 - found.mean())}); "
        f"unreadable {errors}"
    )
    print(f"- found only after padding: {int(emb.padded.sum())}")
    print(f"- several faces: {multi} images; the central face is not the largest in {not_largest}")
    print(
        f"- central face flagged by the quality verdict: {int(flagged.sum())} "
        f"({pct(flagged.sum() / max(1, found.sum()))}); reasons: "
        + ", ".join(f"{code} {count}" for code, count in reasons.most_common())
    )
    print()


def report_protocol(p: Protocol, s: Scores, thresholds: Sequence[float]) -> None:
    print("## 1:N identification (exact cosine search, top-1)\n")
    print(
        f"- gallery: {len(p.gallery_names)} identities, one photo each "
        f"({p.gallery_later_photo} enrolled from a later photo because the first had no face, "
        f"{p.not_enrolled} people with no face in any photo left out; "
        f"{p.gallery_flagged} gallery faces flagged by the quality verdict)"
    )
    print(
        f"- mated probes: {len(p.mated_truth)} with a face ({int(p.mated_ok.sum())} ok, "
        f"{int((~p.mated_ok).sum())} flagged); {p.mated_no_face} without a face, not counted"
    )
    print(
        f"- non-mated probes: {len(p.nonmated_files)} with a face ({int(p.nonmated_ok.sum())} ok, "
        f"{int((~p.nonmated_ok).sum())} flagged); {p.nonmated_no_face} without a face, not counted"
    )
    rank1 = _share(int(s.mated_correct.sum()), len(s.truth))
    print(f"- rank-1 (nearest identity is the right one, no threshold): {counted(rank1)}")
    for band, target in TARGETS.items():
        t = threshold_for_fpir(s.nonmated_top_sim, target)
        print(
            f"- lowest threshold with FPIR <= {pct(target, 1)} on this whole set ({band}): {t:.3f} "
            f"(FPIR {counted(fpir(s, t))}, TPIR {counted(tpir(s, t), 1)})"
        )
    print()
    print(
        "TPIR: mated probes whose top-1 is the right identity at similarity >= t. "
        "FPIR: non-mated probes given any candidate >= t (95% upper bound: Wilson). "
        "Wrong name shown: mated probes for whom some *other* identity also scores >= t.\n"
    )
    ok, flagged = p.mated_ok, ~p.mated_ok
    n_ok, n_flagged = p.nonmated_ok, ~p.nonmated_ok
    rows = []
    for t in thresholds:
        f_all = fpir(s, t)
        wrong = _share(int((s.mated_wrong_sim >= t).sum()), len(s.truth))
        rows.append(
            [
                f"{t:.2f}",
                counted(tpir(s, t), 1),
                pct(tpir(s, t, ok)[0], 1),
                pct(tpir(s, t, flagged)[0], 1),
                counted(f_all),
                pct(wilson_upper(f_all[1], f_all[2])),
                counted(fpir(s, t, n_ok)),
                counted(fpir(s, t, n_flagged)),
                counted(wrong),
            ]
        )
    header = [
        "t",
        "TPIR",
        "TPIR ok",
        "TPIR flagged",
        "FPIR",
        "FPIR 95% upper",
        "FPIR ok",
        "FPIR flagged",
        "mated: wrong name shown",
    ]
    print(table(header, rows))
    print()


def report_gallery_size(p: Protocol, seed: int, draws: int = 20) -> None:
    print("## FPIR against gallery size\n")
    print(
        "Non-mated probes searched against random subsets of the gallery (mean of "
        f"{draws} draws), and the whole gallery. Projected rows assume independent comparisons: "
        "1 - (1 - FMR)^N, where FMR is the share of single non-mated comparisons >= t; compare "
        "the projection with the measured row of the same size before trusting it.\n"
    )
    sims = p.nonmated @ p.gallery.T
    full = sims.shape[1]
    rng = np.random.default_rng(seed)
    rows: list[list[object]] = []
    for size in [n for n in GALLERY_SIZES if n < full] + [full]:
        times = draws if size < full else 1
        shares = np.zeros(len(SIZE_THRESHOLDS))
        for _ in range(times):
            cols = rng.choice(full, size, replace=False) if size < full else np.arange(full)
            top = sims[:, cols].max(axis=1)
            shares += np.array([(top >= t).mean() for t in SIZE_THRESHOLDS])
        rows.append([f"{size}", *(pct(x) for x in shares / times)])
    fmr = [float((sims >= t).mean()) for t in SIZE_THRESHOLDS]
    for size in (full, *PROJECTED_SIZES):
        rows.append([f"{size} (projected)", *(pct(1 - (1 - f) ** size) for f in fmr)])
    rows.append(["FMR, one comparison", *(f"{f:.1e}" for f in fmr)])
    print(table(["gallery size", *(f"FPIR at {t:.2f}" for t in SIZE_THRESHOLDS)], rows))
    print()


def report_false_positives(p: Protocol, s: Scores, top: int) -> None:
    print(f"## Highest-scoring non-mated probes (top {top}): label noise or look-alikes?\n")
    order = np.argsort(-s.nonmated_top_sim)[:top]
    rows = [
        [f"{s.nonmated_top_sim[i]:.3f}", p.nonmated_files[i], p.gallery_files[s.nonmated_top[i]]]
        for i in order
    ]
    print(table(["similarity", "probe (not enrolled)", "nearest gallery photo"], rows))
    print()
    wrong = np.flatnonzero(~s.mated_correct)
    order = wrong[np.argsort(-s.mated_top_sim[wrong])][:top]
    print(f"Highest-scoring mated probes whose top-1 is another person (top {top}):\n")
    rows = [
        [
            f"{s.mated_top_sim[i]:.3f}",
            p.mated_files[i],
            p.gallery_files[s.mated_top[i]],
            f"{float(p.mated[i] @ p.gallery[p.mated_truth[i]]):.3f}",
        ]
        for i in order
    ]
    print(
        table(
            ["similarity", "probe", "top-1 gallery photo", "similarity to own gallery photo"], rows
        )
    )
    print()


def report_split(people: dict[str, list[str]], emb: EmbeddingSet, seed: int, splits: int) -> None:
    names = sorted(people)
    print("## Do thresholds hold on unseen people? (split-half check)\n")
    print(
        "People are split at random into halves A and B, each with its own gallery and probes. "
        "The threshold is the lowest (0.001 steps) meeting the FPIR target on A, then measured "
        "on B.\n"
    )
    held_out: dict[str, list[tuple[float, float, float]]] = {k: [] for k in TARGETS}
    rows = []
    for k in range(splits):
        order = np.random.default_rng(seed + k).permutation(len(names))
        half = len(names) // 2
        a = build_protocol(people, emb, [names[i] for i in order[:half]])
        b = build_protocol(people, emb, [names[i] for i in order[half:]])
        sa, sb = search(a), search(b)
        for band, target in TARGETS.items():
            t = threshold_for_fpir(sa.nonmated_top_sim, target)
            fa, fb = fpir(sa, t), fpir(sb, t)
            held_out[band].append((t, fb[0], tpir(sb, t)[0]))
            if k == 0:
                rows.append(
                    [
                        f"{band} (FPIR <= {pct(target, 1)})",
                        f"{t:.3f}",
                        counted(fa),
                        counted(tpir(sa, t), 1),
                        counted(fb),
                        pct(wilson_upper(fb[1], fb[2])),
                        counted(tpir(sb, t), 1),
                    ]
                )
        if k == 0:
            print(
                f"Seed {seed}: A has {len(a.gallery_names)} enrolled, {len(a.mated_truth)} mated, "
                f"{len(a.nonmated_files)} non-mated probes; B has {len(b.gallery_names)}, "
                f"{len(b.mated_truth)}, {len(b.nonmated_files)}.\n"
            )
            header = [
                "band",
                "t chosen on A",
                "FPIR A",
                "TPIR A",
                "FPIR B",
                "FPIR B 95% upper",
                "TPIR B",
            ]
            print(table(header, rows))
            print()
    if splits > 1:
        print(f"Over {splits} random splits (seeds {seed}..{seed + splits - 1}):\n")
        rows = []
        for band, target in TARGETS.items():
            chosen = np.array([v[0] for v in held_out[band]])
            fpir_b = np.array([v[1] for v in held_out[band]])
            tpir_b = np.array([v[2] for v in held_out[band]])
            rows.append(
                [
                    f"{band} (FPIR <= {pct(target, 1)})",
                    f"{chosen.min():.3f}..{chosen.max():.3f} (median {np.median(chosen):.3f})",
                    f"{pct(fpir_b.mean())} / {pct(fpir_b.max())}",
                    f"{int((fpir_b > target).sum())} of {splits}",
                    f"{pct(tpir_b.mean(), 1)}",
                ]
            )
        header = [
            "band",
            "t chosen on A",
            "FPIR on B: mean / worst",
            "B over target",
            "TPIR on B: mean",
        ]
        print(table(header, rows))
        print()


def read_pairs(path: Path) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """Same-person and different-person pairs as relative image paths."""
    same: list[tuple[str, str]] = []
    different: list[tuple[str, str]] = []
    for line in path.read_text().splitlines()[1:]:
        fields = line.split()
        if len(fields) == 3:
            name, n1, n2 = fields
            same.append((_photo(name, n1), _photo(name, n2)))
        elif len(fields) == 4:
            name1, n1, name2, n2 = fields
            different.append((_photo(name1, n1), _photo(name2, n2)))
    return same, different


def _photo(name: str, number: str) -> str:
    return f"{name}/{name}_{int(number):04d}.jpg"


def report_pairs(pairs_file: Path, emb: EmbeddingSet, checks: Sequence[float]) -> None:
    same, different = read_pairs(pairs_file)

    def sims(pairs: list[tuple[str, str]]) -> tuple[np.ndarray, int, int]:
        values = []
        absent = no_face = 0
        for a, b in pairs:
            i, j = emb.index.get(a), emb.index.get(b)
            if i is None or j is None:
                absent += 1
            elif emb.faces[i] == 0 or emb.faces[j] == 0:
                no_face += 1
            else:
                values.append(float(emb.vectors[i].astype(np.float64) @ emb.vectors[j]))
        return np.array(values), absent, no_face

    s_same, absent_same, no_face_same = sims(same)
    s_diff, absent_diff, no_face_diff = sims(different)
    print(f"## Verification on the official pairs ({pairs_file.name})\n")
    print(
        f"{len(same)} same-person and {len(different)} different-person pairs; left out: "
        f"{no_face_same} and {no_face_diff} with no face in a photo, "
        f"{absent_same} and {absent_diff} with a photo not in the folder.\n"
    )
    if not len(s_same) or not len(s_diff):
        return
    header = ["pairs", "n", "mean", "std", *(f"p{q}" for q in PAIR_PERCENTILES)]
    rows = []
    for label, values in (("same person", s_same), ("different people", s_diff)):
        rows.append(
            [label, len(values), f"{values.mean():.3f}", f"{values.std():.3f}"]
            + [f"{np.percentile(values, q):.3f}" for q in PAIR_PERCENTILES]
        )
    print(table(header, rows))
    print()
    grid = np.round(np.arange(0.0, 1.0, 0.005), 3)
    accuracy = [((s_same >= t).mean() + (s_diff < t).mean()) / 2 for t in grid]
    best = int(np.argmax(accuracy))
    rows = []
    for t in [*checks, float(grid[best])]:
        rows.append(
            [
                f"{t:.3f}" + (" (best)" if t == grid[best] and t not in checks else ""),
                pct(((s_same >= t).mean() + (s_diff < t).mean()) / 2),
                pct((s_same < t).mean()),
                pct((s_diff >= t).mean()),
            ]
        )
    header = ["t", "accuracy (balanced)", "same pairs below t", "different pairs at/above t"]
    print(table(header, rows))
    print()


def list_people(root: Path, max_people: int) -> dict[str, list[str]]:
    people: dict[str, list[str]] = {}
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        photos = sorted(f"{folder.name}/{f.name}" for f in folder.glob("*.jpg"))
        if photos:
            people[folder.name] = photos
        if max_people and len(people) >= max_people:
            break
    return people


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        epilog="Example: python bench/calibrate.py /work/shared/faces/lfw-devtrain "
        "--cache /tmp/facefind-calibrate-buffalo_s.npz --workers 2",
    )
    parser.add_argument("photos", type=Path, help="folder with <Person>/<Person>_NNNN.jpg")
    parser.add_argument(
        "--cache",
        type=Path,
        default=None,
        help="embedding cache, outside the repository "
        f"(default {tempfile.gettempdir()}/facefind-calibrate-<model pack>.npz)",
    )
    parser.add_argument(
        "--model-dir", type=Path, default=None, help="model pack (default: buffalo_s)"
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=min(2, os.cpu_count() or 1),
        help="embedding processes, one ONNX thread each (default %(default)s)",
    )
    parser.add_argument(
        "--pairs",
        type=Path,
        default=None,
        help="LFW pairs file (default: pairsDevTrain.txt beside the photo folder, if present)",
    )
    parser.add_argument(
        "--thresholds",
        type=float,
        nargs="+",
        default=DEFAULT_THRESHOLDS,
        help="thresholds for the main table (default 0.25..0.70 by 0.05; "
        "the pack's configured strong and possible values are always added)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the first split-half draw")
    parser.add_argument("--splits", type=int, default=20, help="split-half draws to summarise")
    parser.add_argument("--top", type=int, default=10, help="highest false positives to list")
    parser.add_argument(
        "--max-people", type=int, default=0, help="first N people only (smoke test)"
    )
    args = parser.parse_args()

    root: Path = args.photos.resolve()
    identity = cache_identity(args.model_dir)
    pack = identity["model"]
    default_cache = Path(tempfile.gettempdir()) / f"facefind-calibrate-{pack}.npz"
    cache: Path = (args.cache or default_cache).resolve()
    if cache.is_relative_to(REPO_ROOT):
        # Embeddings of third-party faces are biometric data: they must never be committed.
        sys.exit(f"--cache {cache} is inside the repository; put it elsewhere (e.g. /tmp)")
    people = list_people(root, args.max_people)
    if not people:
        sys.exit(f"no <Person>/*.jpg photos under {root}")
    paths = [p for photos in people.values() for p in photos]
    emb = embed_all(root, paths, cache, identity, args.model_dir, args.workers)

    # The pack's configured (strong, possible) pair is always in the table, for comparison.
    configured = sorted(FALLBACK_THRESHOLDS)
    thresholds = sorted({round(t, 4) for t in [*args.thresholds, *configured]})
    print(f"# Threshold calibration: model pack {pack}\n")
    print(
        f"detector {identity['detector_sha256'][:12]}, recognizer "
        f"{identity['recognizer_sha256'][:12]}, recognition code "
        f"{identity['recognition_sha256'][:12]}; {identity['limits']}\n"
    )
    report_dataset(root, emb, people)
    full = build_protocol(people, emb, people)
    scores = search(full)
    report_protocol(full, scores, thresholds)
    report_gallery_size(full, args.seed)
    report_false_positives(full, scores, args.top)
    report_split(people, emb, args.seed, args.splits)
    pairs = args.pairs or root.parent / "pairsDevTrain.txt"
    if pairs.is_file():
        report_pairs(pairs, emb, configured)


if __name__ == "__main__":
    main()
