"""Time per photo of facefind's analyze and identify paths against raw insightface, side by side."""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import os
import resource
import statistics
import tempfile
import time
import warnings
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from facefind.access.actors import Requester
from facefind.enroll.photo import IdentitySpec
from facefind.errors import FaceFindError
from facefind.runtime.settings import Settings
from facefind.service import FaceFind
from recognition import ImageError
from recognition.models import recognizer_session, resolve_model_pack, session_options
from recognition.pipeline import FaceAnalyzer, l2_normalize

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp"}
RAW_INPUT_SIZE = (640, 640)
Call = Callable[[bytes], Awaitable[tuple[int, dict[str, float]]]]


def insightface_t1() -> Path:
    """The group photo bundled with insightface (6 faces)."""
    spec = importlib.util.find_spec("insightface")
    assert spec is not None and spec.submodule_search_locations
    return Path(next(iter(spec.submodule_search_locations))) / "data" / "images" / "t1.jpg"


def list_photos(folders: Sequence[Path], limit: int) -> list[Path]:
    """The first `limit` images under the folders, in sorted order (deterministic)."""
    found: list[Path] = []
    for folder in folders:
        found.extend(sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES))
    return found[:limit]


def enrollment_plan(folder: Path, count: int) -> list[tuple[str, Path]]:
    """(name, first photo) of the first `count` people with two or more photos (LFW layout)."""
    plan: list[tuple[str, Path]] = []
    for person in sorted(p for p in folder.iterdir() if p.is_dir()):
        photos = sorted(p for p in person.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if len(photos) >= 2:
            plan.append((person.name.replace("_", " "), photos[0]))
        if len(plan) == count:
            break
    return plan


# --- the baseline: insightface called directly -------------------------------------------------
@dataclass
class RawResult:
    boxes: np.ndarray  # (N, 4)
    embeddings: np.ndarray  # (N, 512), unit length
    stages_ms: dict[str, float]


class RawInsightface:
    """SCRFD + ArcFace as the insightface README uses them: one 640 px pass, one face per call.

    `mirror` embeds each face as facefind does (recipe `flip-mean`: the face and its mirror
    image in one call, the normalised mean): the baseline that isolates facefind's own work
    from the recipe's second recognizer pass. `rewritten` runs the recognizer on the graph
    facefind runs (PRelu rewritten, recognition/graph.py) instead of the file's.
    """

    def __init__(
        self,
        detector: Path,
        recognizer: Path,
        threads: int,
        mirror: bool = False,
        rewritten: bool = False,
    ) -> None:
        self.mirror = mirror
        from insightface.model_zoo import get_model
        from insightface.model_zoo.arcface_onnx import ArcFaceONNX

        # The same ONNX Runtime options as facefind, so only the code around the models differs.
        self.det = get_model(
            str(detector), providers=["CPUExecutionProvider"], sess_options=session_options(threads)
        )
        if rewritten:
            session = recognizer_session(Path(recognizer), threads)
            self.rec = ArcFaceONNX(model_file=str(recognizer), session=session)
        else:
            self.rec = get_model(
                str(recognizer),
                providers=["CPUExecutionProvider"],
                sess_options=session_options(threads),
            )
        self.det.prepare(0, det_thresh=0.5)
        self.rec.prepare(0)

    def _embed(self, crop: np.ndarray) -> np.ndarray:
        if not self.mirror:
            return np.asarray(self.rec.get_feat(crop)[0])
        both = l2_normalize(np.asarray(self.rec.get_feat([crop, crop[:, ::-1]])).reshape(2, -1))
        return np.asarray(both[0] + both[1])

    def run(self, data: bytes) -> RawResult:
        from insightface.utils.face_align import norm_crop

        t0 = time.perf_counter()
        img = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR)
        t1 = time.perf_counter()
        boxes, kpss = self.det.detect(img, input_size=RAW_INPUT_SIZE)
        t2 = time.perf_counter()
        feats = [self._embed(norm_crop(img, kps)) for kps in kpss]
        embeddings = (
            l2_normalize(np.asarray(feats).reshape(len(feats), -1))
            if feats
            else np.zeros((0, 512), dtype=np.float32)
        )
        t3 = time.perf_counter()
        return RawResult(
            boxes=np.asarray(boxes[:, :4]).reshape(-1, 4),
            embeddings=embeddings,
            stages_ms={
                "decode": (t1 - t0) * 1000,
                "detect": (t2 - t1) * 1000,
                "embed": (t3 - t2) * 1000,
            },
        )


# --- measurement ------------------------------------------------------------------------------
@dataclass
class Variant:
    name: str
    ms: list[float] = field(default_factory=list)
    faces: list[int] = field(default_factory=list)
    stages: dict[str, list[float]] = field(default_factory=dict)

    def record(self, ms: float, faces: int, stages: dict[str, float]) -> None:
        self.ms.append(ms)
        self.faces.append(faces)
        for key, value in stages.items():
            self.stages.setdefault(key, []).append(value)


def _rss_mb() -> tuple[float, float]:
    """(current, peak) resident set size of this process in MiB (Linux)."""
    with open("/proc/self/statm") as fh:
        pages = int(fh.read().split()[1])
    current = pages * resource.getpagesize() / 2**20
    return current, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    x1, y1 = max(a[0], b[0]), max(a[1], b[1])
    x2, y2 = min(a[2], b[2]), min(a[3], b[3])
    inter = max(0.0, x2 - x1) * max(0.0, y2 - y1)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


def _pct(values: Sequence[float], q: float) -> float:
    return float(np.percentile(values, q))


async def run(args: argparse.Namespace) -> None:
    warnings.filterwarnings("ignore", category=FutureWarning)  # skimage, inside insightface
    photos = list_photos(args.folders, args.limit)
    if args.t1 or not photos:
        photos.append(insightface_t1())
    blobs = [p.read_bytes() for p in photos]
    memory: list[tuple[str, float, float]] = [("start", *_rss_mb())]

    pack = resolve_model_pack(None)
    raw = RawInsightface(pack.detector_path, pack.recognizer_path, args.threads)
    memory.append(("raw insightface loaded", *_rss_mb()))

    with tempfile.TemporaryDirectory(prefix="facefind-bench-") as tmp:
        settings = Settings(
            database_url=args.database_url,
            data_dir=Path(tmp),
            onnx_threads=args.threads,
        )
        service = await FaceFind.open(settings, actor="bench")
        memory.append(("facefind service opened", *_rss_mb()))
        try:
            requester = Requester(actor="bench")
            enrolled = 0
            if args.folders and args.enroll:
                enroll = service.enroller.enroll
                for name, photo in enrollment_plan(args.folders[0], args.enroll):
                    try:
                        await enroll(photo.read_bytes(), IdentitySpec(name), requester)
                        enrolled += 1
                    except (FaceFindError, ImageError):
                        pass
            memory.append((f"{enrolled} identities enrolled", *_rss_mb()))

            analyzer = service.analyzer

            # All three are coroutines so one loop times them alike; the first two run their
            # blocking work inline, as a caller without an event loop would.
            async def raw_call(data: bytes) -> tuple[int, dict[str, float]]:
                result = raw.run(data)
                return len(result.boxes), result.stages_ms

            async def analyze_call(data: bytes) -> tuple[int, dict[str, float]]:
                analysis = analyzer.analyze(data)
                return len(analysis.faces), analysis.timings_ms

            async def identify_call(data: bytes) -> tuple[int, dict[str, float]]:
                try:
                    result = await service.identifier.identify(data, requester)
                except ImageError:
                    return 0, {}
                return len(result.faces), result.timings_ms

            calls: list[tuple[Variant, Call]] = [
                (Variant("raw insightface"), raw_call),
                (Variant("facefind analyze"), analyze_call),
                (Variant("facefind identify"), identify_call),
            ]
            for data in blobs[: args.warmup]:
                for _, fn in calls:
                    await fn(data)
            n = 0
            for rep in range(args.repeats):
                for data in blobs:
                    # rotate the order photo by photo so drift and caches hit all variants alike
                    shift = n % len(calls)
                    n += 1
                    for variant, fn in calls[shift:] + calls[:shift]:
                        started = time.perf_counter()
                        faces, stages = await fn(data)
                        variant.record((time.perf_counter() - started) * 1000, faces, stages)
                # RSS after each pass: growth that continues pass after pass would be a leak
                memory.append((f"after timed pass {rep + 1}", *_rss_mb()))

            checks = agreement(raw, analyzer, blobs)
            # t1.jpg (6 faces) always takes part: LFW photos rarely hold several usable faces
            t1 = insightface_t1().read_bytes()
            batch = pair_check(analyzer, blobs if t1 in blobs else [*blobs, t1])
        finally:
            await service.close()

    print_report(args, photos, [v for v, _ in calls], memory, checks, batch, enrolled)


@dataclass
class Agreement:
    both: int = 0
    only_raw: int = 0
    only_facefind: int = 0
    neither: int = 0
    cosines: list[float] = field(default_factory=list)


def agreement(raw: RawInsightface, analyzer: FaceAnalyzer, blobs: Sequence[bytes]) -> Agreement:
    """Which photos each path finds faces in, and how close the embeddings of shared faces are."""
    out = Agreement()
    for data in blobs:
        r = raw.run(data)
        try:
            f = analyzer.analyze(data)
        except ImageError:
            continue
        has_raw, has_ff = len(r.boxes) > 0, len(f.faces) > 0
        out.both += has_raw and has_ff
        out.only_raw += has_raw and not has_ff
        out.only_facefind += has_ff and not has_raw
        out.neither += not has_raw and not has_ff
        for face in f.faces:
            box = np.asarray(face.bbox)
            ious = [_iou(box, rb) for rb in r.boxes]
            if ious and max(ious) >= 0.5:
                k = int(np.argmax(ious))
                out.cosines.append(float(face.embedding @ r.embeddings[k]))
    return out


def pair_check(analyzer: FaceAnalyzer, blobs: Sequence[bytes]) -> tuple[int, int, float]:
    """(photos with 2+ faces, faces, max |facefind's embedding - the recipe from single-image
    calls|): analyze sends each face with its mirror image in one session call (a batch of 2;
    w600k_mbf declares batch 1 on its output)."""
    recognizer = analyzer._recognizer
    photos = faces = 0
    worst = 0.0
    for data in blobs:
        try:
            analysis = analyzer.analyze(data)
        except ImageError:
            continue
        if len(analysis.faces) < 2:
            continue
        photos += 1
        for face in analysis.faces:
            alone = [recognizer.get_feat([i])[0] for i in (face.crop, face.crop[:, ::-1].copy())]
            units = l2_normalize(np.asarray(alone, dtype=np.float32))
            single = l2_normalize(units[0] + units[1])
            worst = max(worst, float(np.abs(face.embedding - single).max()))
            faces += 1
    return photos, faces, worst


def print_report(
    args: argparse.Namespace,
    photos: Sequence[Path],
    variants: Sequence[Variant],
    memory: Sequence[tuple[str, float, float]],
    checks: Agreement,
    batch: tuple[int, int, float],
    enrolled: int,
) -> None:
    base = variants[0]
    base_med = statistics.median(base.ms)
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at end")
    print(
        f"{len(photos)} photos x {args.repeats} repeats (+{args.warmup} warm-up), "
        f"ONNX threads {args.threads}, {enrolled} identities enrolled; "
        "order rotated per photo"
    )
    print(
        f"{'variant':<18} {'p50 ms':>7} {'p95 ms':>7} {'mean ms':>8} {'p50 ratio':>9} "
        f"{'ratio p50':>9} {'faces':>6} {'photos w/ face':>14}"
    )
    for v in variants:
        med = statistics.median(v.ms)
        per_photo = [a / b for a, b in zip(v.ms, base.ms, strict=True)]
        print(
            f"{v.name:<18} {med:>7.1f} {_pct(v.ms, 95):>7.1f} {statistics.fmean(v.ms):>8.1f} "
            f"{med / base_med:>9.2f} {statistics.median(per_photo):>9.2f} "
            f"{sum(v.faces):>6} {sum(1 for n in v.faces if n):>14}"
        )
    print("  (p50 ratio = p50 / raw p50; ratio p50 = median of per-photo ratios)")
    print("stage medians (ms):")
    for v in variants:
        parts = ", ".join(f"{k} {statistics.median(x):.1f}" for k, x in v.stages.items())
        print(f"  {v.name:<18} {parts}")
    print(
        f"faces found per photo: both {checks.both}, only raw {checks.only_raw}, "
        f"only facefind {checks.only_facefind}, neither {checks.neither}"
    )
    if checks.cosines:
        print(
            f"same face, facefind vs raw embedding cosine: median "
            f"{statistics.median(checks.cosines):.4f}, min {min(checks.cosines):.4f} "
            f"({len(checks.cosines)} faces)"
        )
    print(
        f"face and mirror in one call vs each alone: {batch[0]} photos with 2+ faces, "
        f"{batch[1]} faces, "
        f"max abs diff {batch[2]:.2e}"
    )
    print("memory (MiB, this process; PostgreSQL runs apart): stage, current RSS, peak RSS")
    passes = [m for m in memory if m[0].startswith("after timed pass")]
    shown = [m for m in memory if m not in passes] + passes[:2] + passes[2:][-1:]
    for stage, current, peak in shown:
        print(f"  {stage:<28} {current:>7.0f} {peak:>7.0f}")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "folders",
        nargs="*",
        type=Path,
        help="folders of photos, read in place (e.g. /work/shared/faces/lfw-devtrain); the "
        "first one also gives the people to enroll",
    )
    parser.add_argument("--limit", type=int, default=300, help="photos to time")
    parser.add_argument(
        "--t1", action="store_true", help="also time insightface's t1.jpg (the default input)"
    )
    parser.add_argument("--repeats", type=int, default=1, help="passes over the photos")
    parser.add_argument("--warmup", type=int, default=5, help="untimed photos first")
    parser.add_argument("--enroll", type=int, default=50, help="people to enroll first")
    parser.add_argument(
        "--threads",
        type=int,
        default=Settings().onnx_threads,
        help="ONNX intra-op threads for both paths (facefind's default)",
    )
    parser.add_argument(
        "--database-url",
        help="a database the bench may migrate and write to (identities, faces, lookups); "
        "default: a throwaway embedded PostgreSQL in a temp folder",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    asyncio.run(run(parse_args(argv)))


if __name__ == "__main__":
    main()
