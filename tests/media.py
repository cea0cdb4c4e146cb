"""Test media made from the bundled images: HEIC photos (pillow-heif) and video clips (PyAV)."""

from __future__ import annotations

import io
import struct
from collections.abc import Sequence

import av
import numpy as np
import pillow_heif
from PIL import Image

from tests.images import _STORE_FOR_ORIENTATION

pillow_heif.register_heif_opener()


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
def clip_bytes(
    frames: Sequence[np.ndarray],
    fps: int = 10,
    *,
    container: str = "mp4",
    codec: str = "libx264",
) -> bytes:
    """Encode BGR frames (all of one size, even sides for yuv420p) as a clip in memory."""
    height, width = frames[0].shape[:2]
    buf = io.BytesIO()
    with av.open(buf, "w", format=container) as out:
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
    return buf.getvalue()


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
        import cv2

        size = (max(1, int(img.shape[1] * scale)), max(1, int(img.shape[0] * scale)))
        img = cv2.resize(img, size, interpolation=cv2.INTER_AREA)
    top = (height - img.shape[0]) // 2
    left = (width - img.shape[1]) // 2
    canvas[top : top + img.shape[0], left : left + img.shape[1]] = img
    return canvas
