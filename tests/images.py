"""Test images: insightface's bundled photos and helpers that derive variants and bad inputs."""

from __future__ import annotations

import importlib.util
import io
import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

# insightface/data/images/t1.jpg: a 1280x886 group photo with six frontal-ish faces.
T1 = "t1.jpg"
T1_FACES = 6
# A 112x112 grey ArcFace-aligned face: the whole image is the face, as in an ID photo.
TOM_HANKS = "Tom_Hanks_54745.png"


def insightface_image_path(name: str) -> Path:
    """Return the path of one of the sample images shipped inside the insightface package."""
    spec = importlib.util.find_spec("insightface")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("insightface is not installed")
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "images" / name
    if not path.is_file():
        raise FileNotFoundError(path)
    return path


def read_bytes(name: str) -> bytes:
    """Return the raw bytes of an insightface sample image."""
    return insightface_image_path(name).read_bytes()


def read_image(name: str) -> np.ndarray:
    """Return an insightface sample image as a BGR array."""
    img = cv2.imread(str(insightface_image_path(name)), cv2.IMREAD_COLOR)
    if img is None:
        raise ValueError(f"cannot read {name}")
    return np.asarray(img)


def crop_around(
    img: np.ndarray, bbox: tuple[float, float, float, float], margin: float
) -> np.ndarray:
    """Cut the box grown by `margin` times its size on every side (negative shrinks it)."""
    x1, y1, x2, y2 = bbox
    bw, bh = x2 - x1, y2 - y1
    height, width = img.shape[:2]
    left = max(0, round(x1 - margin * bw))
    top = max(0, round(y1 - margin * bh))
    right = min(width, round(x2 + margin * bw))
    bottom = min(height, round(y2 + margin * bh))
    return np.ascontiguousarray(img[top:bottom, left:right])


def flip(img: np.ndarray) -> np.ndarray:
    """Mirror left to right (a selfie camera does this)."""
    return np.ascontiguousarray(img[:, ::-1])


def resize(img: np.ndarray, factor: float) -> np.ndarray:
    """Scale both sides by `factor`."""
    height, width = img.shape[:2]
    size = (max(1, round(width * factor)), max(1, round(height * factor)))
    interpolation = cv2.INTER_AREA if factor < 1 else cv2.INTER_CUBIC
    return cv2.resize(img, size, interpolation=interpolation)


def _pil(img: np.ndarray) -> Image.Image:
    return Image.fromarray(np.ascontiguousarray(img[:, :, ::-1]))


def to_jpeg(img: np.ndarray, quality: int = 95) -> bytes:
    """Encode a BGR image as JPEG bytes."""
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return buf.tobytes()


def recompress_jpeg(img: np.ndarray, quality: int) -> bytes:
    """Return the image as a JPEG at a (typically poor) quality, as messengers re-encode."""
    return to_jpeg(img, quality)


def to_png(img: np.ndarray) -> bytes:
    """Encode a BGR image as PNG bytes."""
    ok, buf = cv2.imencode(".png", img)
    assert ok
    return buf.tobytes()


def to_webp(img: np.ndarray, quality: int = 90) -> bytes:
    """Encode a BGR image as lossy WebP bytes."""
    buf = io.BytesIO()
    _pil(img).save(buf, "WEBP", quality=quality)
    return buf.getvalue()


# The stored pixels for each EXIF orientation are the upright image with the inverse of the
# transform a viewer applies (orientation 6 means "rotate 90 degrees clockwise to view").
_STORE_FOR_ORIENTATION: dict[int, Image.Transpose | None] = {
    1: None,
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_90,  # counter-clockwise, undone by the viewer's clockwise turn
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_270,
}


def with_exif_orientation(img: np.ndarray, orientation: int, quality: int = 95) -> bytes:
    """Return a JPEG whose pixels are turned and whose EXIF tag tells a viewer to turn them back."""
    transpose = _STORE_FOR_ORIENTATION[orientation]
    stored = _pil(img)
    if transpose is not None:
        stored = stored.transpose(transpose)
    exif = Image.Exif()
    exif[0x0112] = orientation
    buf = io.BytesIO()
    stored.save(buf, "JPEG", quality=quality, exif=exif)
    return buf.getvalue()


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    crc = zlib.crc32(kind + payload) & 0xFFFFFFFF
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)


def decompression_bomb_png(width: int = 40_000, height: int = 40_000) -> bytes:
    """Return a ~100-byte PNG whose header claims width x height RGB pixels."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB, no interlace
    # One scanline of zeros is enough to look valid to a header parser; the rest is "missing".
    idat = zlib.compress(b"\x00" * (1 + 3 * min(width, 1024)), 9)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", idat)
        + _png_chunk(b"IEND", b"")
    )


def truncated(data: bytes, keep: float = 0.5) -> bytes:
    """Return the first `keep` share of the bytes, as an interrupted upload leaves them."""
    return data[: max(1, int(len(data) * keep))]


def rgba_png(img: np.ndarray, alpha: np.ndarray) -> bytes:
    """Encode a BGR image plus an alpha plane (0 transparent, 255 opaque) as RGBA PNG."""
    rgba = np.dstack([img[:, :, ::-1], alpha]).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(rgba, mode="RGBA").save(buf, "PNG")
    return buf.getvalue()


def grey16_png(grey: np.ndarray) -> bytes:
    """Encode a uint16 grey plane as a 16-bit greyscale PNG."""
    ok, buf = cv2.imencode(".png", grey.astype(np.uint16))
    assert ok
    return buf.tobytes()


def palette_png(img: np.ndarray, colors: int = 64) -> bytes:
    """Encode a BGR image as a palette (mode P) PNG."""
    buf = io.BytesIO()
    _pil(img).quantize(colors).save(buf, "PNG")
    return buf.getvalue()


def cmyk_jpeg(img: np.ndarray) -> bytes:
    """Encode a BGR image as a CMYK JPEG (print workflows produce these)."""
    buf = io.BytesIO()
    _pil(img).convert("CMYK").save(buf, "JPEG", quality=95)
    return buf.getvalue()


def animated_webp(frames: list[np.ndarray]) -> bytes:
    """Encode BGR frames as an animated WebP."""
    pil_frames = [_pil(f) for f in frames]
    buf = io.BytesIO()
    pil_frames[0].save(
        buf, "WEBP", save_all=True, append_images=pil_frames[1:], duration=100, lossless=True
    )
    return buf.getvalue()


def gif_bytes(img: np.ndarray) -> bytes:
    """Encode a BGR image as GIF (a format the service refuses)."""
    buf = io.BytesIO()
    _pil(img).save(buf, "GIF")
    return buf.getvalue()


def zip_bytes() -> bytes:
    """Return a small valid ZIP archive."""
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("face.jpg", b"not really")
    return buf.getvalue()


PDF_BYTES = b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"
TEXT_BYTES = "Hello, this is not a photo. Привет!\n".encode()
