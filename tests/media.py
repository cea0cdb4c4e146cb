"""Test media made from the bundled images: HEIC photos (pillow-heif) and video clips (PyAV)."""

from __future__ import annotations

import io
import struct
from collections.abc import Sequence

import av
import cv2
import numpy as np
from PIL import Image

# Importing the decoder registers pillow-heif's plugin, with the options production uses; that
# plugin also writes HEIF.
import recognition.decode  # noqa: F401
from tests.images import _STORE_FOR_ORIENTATION


def _pil(img: np.ndarray) -> Image.Image:
    return Image.fromarray(np.ascontiguousarray(img[:, :, ::-1]))


def heic_bytes(img: np.ndarray, orientation: int = 1, quality: int = 90) -> bytes:
    """Encode a BGR image as HEIC the way a phone stores a turned photo: the pixels as the
    sensor saw them plus an EXIF orientation tag (pillow-heif also writes it as the container's
    irot/imir transform, as iPhones do)."""
    stored = _pil(img)
    transpose = _STORE_FOR_ORIENTATION[orientation]
    if transpose is not None:
        stored = stored.transpose(transpose)
    exif = Image.Exif()
    exif[0x0112] = orientation
    buf = io.BytesIO()
    stored.save(buf, "HEIF", quality=quality, exif=exif.tobytes())
    return buf.getvalue()


def heic_sequence(images: Sequence[np.ndarray], primary: int) -> bytes:
    """Encode several BGR images into one HEIF file whose primary image is `primary`."""
    pil = [_pil(i) for i in images]
    buf = io.BytesIO()
    pil[0].save(buf, "HEIF", save_all=True, append_images=pil[1:], primary_index=primary)
    return buf.getvalue()


def with_declared_size(heic: bytes, width: int, height: int) -> bytes:
    """The HEIC with its image-size property (ispe) claiming another size: a bomb's header."""
    at = heic.find(b"ispe")
    assert at > 0 and heic.find(b"ispe", at + 1) < 0, "expected one ispe box"
    # ispe: size, type, version and flags, then width and height as 32-bit big-endian
    return heic[: at + 8] + struct.pack(">II", width, height) + heic[at + 16 :]


# --- clips -----------------------------------------------------------------------------------
class _Sink:
    """A write-only file: muxers cannot go back to write the duration or an index."""

    def __init__(self) -> None:
        self.data = bytearray()

    def write(self, chunk: bytes) -> int:
        self.data += bytes(chunk)
        return len(chunk)


def clip_bytes(
    frames: Sequence[np.ndarray],
    fps: int = 10,
    *,
    container: str = "mp4",
    codec: str = "libx264",
    streamed: bool = False,
) -> bytes:
    """Encode BGR frames (all of one size, even sides for yuv420p) as a clip in memory.
    `streamed` writes it as a live recorder does, without seeking back: a Matroska file then
    declares neither its duration nor its frame count."""
    height, width = frames[0].shape[:2]
    sink: io.BytesIO | _Sink = _Sink() if streamed else io.BytesIO()
    with av.open(sink, "w", format=container) as out:
        stream = out.add_stream(codec, rate=fps)
        assert isinstance(stream, av.video.stream.VideoStream)
        stream.width = width
        stream.height = height
        stream.pix_fmt = "rgb8" if codec == "gif" else "yuv420p"
        for frame in frames:
            picture = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="bgr24")
            for packet in stream.encode(picture):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return bytes(sink.data) if isinstance(sink, _Sink) else sink.getvalue()


def audio_only_mp4(seconds: float = 1.0) -> bytes:
    """An MP4 holding only sound (a voice message saved as .m4a)."""
    buf = io.BytesIO()
    rate = 16_000
    with av.open(buf, "w", format="mp4") as out:
        stream = out.add_stream("aac", rate=rate)
        assert isinstance(stream, av.audio.stream.AudioStream)
        samples = np.zeros((1, round(seconds * rate)), dtype=np.float32)
        frame = av.AudioFrame.from_ndarray(samples, format="fltp", layout="mono")
        frame.sample_rate = rate
        for packet in stream.encode(frame):
            out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return buf.getvalue()


# tkhd display matrices (16.16 fixed point a, b, c, d) as phones write them
PORTRAIT = (0, 0x10000, -0x10000, 0)  # an iPhone held upright: the picture turns clockwise


def with_display_matrix(mp4: bytes, matrix: tuple[int, int, int, int]) -> bytes:
    """The MP4 with its video track's display matrix set, the way a phone marks how to turn
    the stored (landscape) pictures for viewing."""
    at = mp4.find(b"tkhd")
    assert at > 0 and mp4[at + 4] == 0, "expected one version-0 tkhd box"
    # version and flags, creation and modification time, track id, reserved, duration,
    # reserved (8), layer, alternate group, volume, reserved: 40 bytes, then the 3x3 matrix
    start = at + 4 + 40
    a, b, c, d = matrix
    packed = struct.pack(">9i", a, b, 0, c, d, 0, 0, 0, 0x40000000)
    return mp4[:start] + packed + mp4[start + 36 :]


def gif_animation(frames: Sequence[np.ndarray], frame_ms: int = 100) -> bytes:
    """Encode BGR frames as an animated GIF with Pillow (as most GIF makers write them)."""
    pil = [_pil(f) for f in frames]
    buf = io.BytesIO()
    pil[0].save(buf, "GIF", save_all=True, append_images=pil[1:], duration=frame_ms, loop=0)
    return buf.getvalue()


def still_frames(
    img: np.ndarray, seconds: float, fps: int, *, drift_px: int = 0
) -> list[np.ndarray]:
    """`seconds` of video showing one picture, moving `drift_px` to the right over the clip
    (a hand-held phone), so consecutive frames differ a little as in real footage."""
    count = max(1, round(seconds * fps))
    out = []
    for i in range(count):
        shift = round(drift_px * i / max(1, count - 1))
        out.append(np.ascontiguousarray(np.roll(img, shift, axis=1)))
    return out


def on_canvas(img: np.ndarray, width: int, height: int) -> np.ndarray:
    """The picture centred on a grey canvas of width x height (both even), scaled to fit."""
    canvas = np.full((height, width, 3), 128, dtype=np.uint8)
    scale = min(width / img.shape[1], height / img.shape[0], 1.0)
    if scale < 1.0:
        size = (max(1, int(img.shape[1] * scale)), max(1, int(img.shape[0] * scale)))
        img = cv2.resize(img, size, interpolation=cv2.INTER_AREA)
    top = (height - img.shape[0]) // 2
    left = (width - img.shape[1]) // 2
    canvas[top : top + img.shape[0], left : left + img.shape[1]] = img
    return canvas
