"""Clips (videos, video notes, GIF animations) to the people in them: safe frame sampling with
PyAV, faces linked across frames into people, each with a fused embedding and its best frame."""

from __future__ import annotations

import hashlib
import io
import logging
import struct
import time
from collections.abc import Generator
from contextlib import closing
from dataclasses import dataclass

import av
import numpy as np

from recognition.decode import sniff_format
from recognition.errors import (
    CorruptImage,
    EmptyImage,
    ImageError,
    ImageTooLarge,
    TooManyFrames,
    TooManyPixels,
    UnsupportedImage,
    VideoTooLong,
)
from recognition.grouping import LINK_THRESHOLD, FaceItem, group_faces
from recognition.pipeline import FaceAnalyzer, align_face
from recognition.quality import quality_score
from recognition.types import DetectedFace, Quality, VideoLimits

logger = logging.getLogger(__name__)

# The FFmpeg demuxer is chosen from the bytes, never probed: probing would let a crafted file
# reach demuxers that open other files or URLs (HLS playlists, concat lists). The MP4 demuxer
# keeps its default of not following external data references.
_MP4_BOXES = frozenset({b"ftyp", b"moov", b"mdat", b"wide", b"free", b"skip"})
_DECODERS = frozenset({"h264", "hevc", "vp8", "vp9", "av1", "libdav1d", "mpeg4", "gif"})


def sniff_container(data: bytes) -> str | None:
    """The FFmpeg demuxer for MP4/MOV, Matroska/WebM or GIF bytes; None for anything else
    (HEIC photos are ISO-BMFF too, and are left to the image decoder)."""
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "gif"
    if data.startswith(b"\x1a\x45\xdf\xa3"):
        return "matroska"
    if len(data) >= 8 and data[4:8] in _MP4_BOXES and sniff_format(data) != "HEIF":
        return "mov"
    return None


@dataclass(frozen=True, eq=False)
class SampledFrame:
    number: int  # 0-based among the sampled frames
    time_s: float  # from the first frame
    image: np.ndarray  # upright BGR uint8, (H, W, 3)


@dataclass
class ClipStats:
    """Counts kept up to date while a clip is sampled."""

    decoded: int = 0
    sampled: int = 0
    last_time_s: float = 0.0


def sample_frames(
    data: bytes, limits: VideoLimits, *, threads: int = 1, stats: ClipStats | None = None
) -> Generator[SampledFrame, None, None]:
    """Decode untrusted clip bytes and yield upright frames `limits.sample_fps` times a second.

    Checked before decoding: bytes, container, codec, the declared frame size, duration and
    frame count. Checked while decoding (a header can lie): every frame's size (FFmpeg's own
    max_pixels refuses larger pictures before allocating them), the frame count and the time
    from the first frame. Past a limit the clip is refused (an ImageError with its code), not
    cut. A clip whose length is unknown is sampled as if it lasted `limits.max_seconds`, so at
    most `limits.max_samples` frames are yielded. `threads` is FFmpeg's decoding threads;
    `stats` (optional) is kept up to date as frames are decoded.
    """
    if not data:
        raise EmptyImage("no clip data")
    if len(data) > limits.max_bytes:
        raise ImageTooLarge(f"{len(data)} bytes is over the {limits.max_bytes} byte limit")
    fmt = sniff_container(data)
    if fmt is None:
        raise UnsupportedImage("not an MP4, MOV, WebM, MKV or GIF clip")
    stats = stats if stats is not None else ClipStats()
    try:
        with av.open(io.BytesIO(data), mode="r", format=fmt, metadata_errors="ignore") as clip:
            if not clip.streams.video:
                if clip.streams.audio:
                    raise UnsupportedImage("the clip has sound but no video")
                # a cut-off MP4 can leave a stream table with nothing recognisable in it
                raise CorruptImage("the clip has no readable stream")
            stream = clip.streams.video[0]
            context = stream.codec_context
            if context.name not in _DECODERS:
                raise UnsupportedImage(f"{context.name} video is not supported")
            declared = _declared_seconds(clip, stream)
            _check_header(context.width, context.height, declared, stream.frames, limits)
            context.options = {"max_pixels": str(limits.max_frame_pixels)}
            context.thread_count = max(1, threads)
            interval = max(
                1.0 / limits.sample_fps, (declared or limits.max_seconds) / limits.max_samples
            )
            yield from _sample(clip, stream, interval, limits, stats)
    except ImageError:
        raise
    except (av.error.FFmpegError, ValueError, OSError, EOFError, struct.error) as exc:
        # FFmpeg reports malformed data, impossible parameters and over-size pictures alike.
        raise CorruptImage(f"cannot decode the {fmt} clip: {exc}") from exc


def _declared_seconds(clip: av.container.InputContainer, stream: av.VideoStream) -> float | None:
    if stream.duration is not None and stream.time_base is not None and stream.duration > 0:
        return float(stream.duration * stream.time_base)
    if clip.duration is not None and clip.duration > 0:
        return clip.duration / av.time_base
    return None


def _check_header(
    width: int, height: int, seconds: float | None, frames: int, limits: VideoLimits
) -> None:
    if width * height > limits.max_frame_pixels:
        raise TooManyPixels(f"{width}x{height} frames are over the {limits.max_frame_pixels} limit")
    if seconds is not None and seconds > limits.max_seconds:
        raise VideoTooLong(f"{seconds:.1f} s is over the {limits.max_seconds:g} s limit")
    if frames > limits.max_decoded_frames:
        raise TooManyFrames(f"{frames} frames is over the {limits.max_decoded_frames} limit")


def _sample(
    clip: av.container.InputContainer,
    stream: av.VideoStream,
    interval: float,
    limits: VideoLimits,
    stats: ClipStats,
) -> Generator[SampledFrame, None, None]:
    rate = float(stream.average_rate or stream.guessed_rate or 25)
    first: float | None = None
    next_at = 0.0
    for frame in clip.decode(stream):
        stats.decoded += 1
        if stats.decoded > limits.max_decoded_frames:
            raise TooManyFrames(f"more than {limits.max_decoded_frames} frames")
        if frame.width * frame.height > limits.max_frame_pixels:
            raise TooManyPixels(f"a {frame.width}x{frame.height} frame is over the limit")
        stamp = frame.time if frame.time is not None else (stats.decoded - 1) / rate
        if first is None:
            first = stamp
        at = stamp - first
        if at > limits.max_seconds:
            raise VideoTooLong(f"frames past {limits.max_seconds:g} s")
        stats.last_time_s = max(stats.last_time_s, at)
        if at + 1e-6 < next_at or stats.sampled >= limits.max_samples:
            continue
        while next_at <= at + 1e-6:
            next_at += interval
        image = _upright_bgr(frame)
        stats.sampled += 1
        yield SampledFrame(number=stats.sampled - 1, time_s=at, image=image)


def _upright_bgr(frame: av.VideoFrame) -> np.ndarray:
    if any(c.is_alpha for c in frame.format.components):
        bgra = frame.to_ndarray(format="bgra").astype(np.float32)
        alpha = bgra[:, :, 3:] / 255.0
        # Transparent areas become white, as a chat client shows them (decode.py does the same).
        image = (bgra[:, :, :3] * alpha + 255.0 * (1.0 - alpha)).round().astype(np.uint8)
    else:
        image = frame.to_ndarray(format="bgr24")
    # Phones store portrait video as landscape pictures plus a display matrix; FFmpeg gives its
    # angle counter-clockwise, which np.rot90 turns by in quarter turns.
    turns = round((frame.rotation or 0) / 90.0) % 4
    if turns:
        image = np.rot90(image, turns)
    return np.ascontiguousarray(image)


# --- people in a clip ---------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class ClipPerson:
    """One person of a clip: faces linked across the sampled frames."""

    embedding: np.ndarray  # (512,) float32, unit: the normalised mean of the best frames' faces
    best_face: DetectedFace  # in best_frame's coordinates, with its aligned crop
    best_frame: np.ndarray  # the upright BGR frame the person is seen best in
    best_time_s: float
    frames: int  # sampled frames the person was found in
    fused: int  # of which fused into the embedding (the best ones, unflagged when any)
    times_s: tuple[float, ...]  # when the person was seen, in order


@dataclass(frozen=True, eq=False)
class ClipAnalysis:
    people: list[ClipPerson]  # the most often seen first
    people_left_out: int  # people past VideoLimits.max_people, not returned
    sha256: str  # of the clip's bytes
    duration_s: float  # from the first to the last decoded frame
    frames_decoded: int
    frames_sampled: int
    faces_found: int  # in all sampled frames
    timings_ms: dict[str, float]


@dataclass(frozen=True, eq=False)
class _Seen:
    frame: int
    time_s: float
    index: int
    bbox: tuple[float, float, float, float]
    landmarks: np.ndarray
    det_score: float
    quality: Quality
    embedding: np.ndarray


def analyze_clip(
    analyzer: FaceAnalyzer,
    data: bytes,
    limits: VideoLimits,
    *,
    threshold: float = LINK_THRESHOLD,
    threads: int = 1,
) -> ClipAnalysis:
    """The people in a clip, the most often seen first, each with a fused embedding and the
    frame they are seen best in. Synchronous and CPU-bound: run it in the inference pool.

    Every sampled frame is analysed (faces up to the analyzer's `max_faces`); faces are linked
    across frames by `recognition.grouping.group_faces` (never two faces of one frame as one
    person); each person's best `limits.best_frames` faces by `quality_score` are fused. The
    best frames are decoded a second time rather than kept, so memory holds one frame at a time.
    """
    started = time.perf_counter()
    stats = ClipStats()
    seen: list[_Seen] = []
    for frame in sample_frames(data, limits, threads=threads, stats=stats):
        for face in analyzer.analyze_image(frame.image, "").faces:
            seen.append(
                _Seen(
                    frame=frame.number,
                    time_s=frame.time_s,
                    index=face.index,
                    bbox=face.bbox,
                    landmarks=face.landmarks,
                    det_score=face.det_score,
                    quality=face.quality,
                    embedding=face.embedding,
                )
            )
    analysed = time.perf_counter()

    items = [
        FaceItem(
            source=s.frame, embedding=s.embedding, score=quality_score(s.quality), good=s.quality.ok
        )
        for s in seen
    ]
    groups = group_faces(items, threshold=threshold, fuse_at_most=limits.best_frames)
    kept, left_out = groups[: limits.max_people], max(0, len(groups) - limits.max_people)
    grouped = time.perf_counter()

    wanted = {seen[g.best].frame for g in kept}
    images = _frames_again(data, limits, wanted, threads) if wanted else {}
    people = []
    for g in kept:
        best = seen[g.best]
        image = images[best.frame]
        people.append(
            ClipPerson(
                embedding=g.embedding,
                best_face=DetectedFace(
                    index=best.index,
                    bbox=best.bbox,
                    landmarks=best.landmarks,
                    det_score=best.det_score,
                    quality=best.quality,
                    crop=align_face(image, best.landmarks),
                    embedding=best.embedding,
                ),
                best_frame=image,
                best_time_s=best.time_s,
                frames=len(g.members),
                fused=g.fused,
                times_s=tuple(sorted(seen[m].time_s for m in g.members)),
            )
        )
    finished = time.perf_counter()
    logger.debug(
        "clip: %d frames decoded, %d sampled, %d faces, %d people (%d left out) in %.0f ms",
        stats.decoded,
        stats.sampled,
        len(seen),
        len(kept),
        left_out,
        (finished - started) * 1000.0,
    )
    return ClipAnalysis(
        people=people,
        people_left_out=left_out,
        sha256=hashlib.sha256(data).hexdigest(),
        duration_s=stats.last_time_s,
        frames_decoded=stats.decoded,
        frames_sampled=stats.sampled,
        faces_found=len(seen),
        timings_ms={
            "analyse": (analysed - started) * 1000.0,
            "group": (grouped - analysed) * 1000.0,
            "best_frames": (finished - grouped) * 1000.0,
            "total": (finished - started) * 1000.0,
        },
    )


def _frames_again(
    data: bytes, limits: VideoLimits, wanted: set[int], threads: int
) -> dict[int, np.ndarray]:
    """The sampled frames numbered `wanted`, from a second decoding of the same clip."""
    images: dict[int, np.ndarray] = {}
    last = max(wanted)
    # closing(): leaving the loop early closes the decoder now, not when collected
    with closing(sample_frames(data, limits, threads=threads)) as frames:
        for frame in frames:
            if frame.number in wanted:
                images[frame.number] = frame.image
            if frame.number >= last:
                break
    missing = wanted - images.keys()
    if missing:
        raise RuntimeError(f"sampled frames {sorted(missing)} did not decode the second time")
    return images
