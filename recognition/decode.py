"""Safe decoding of untrusted image bytes (JPEG, PNG, WebP, HEIC/HEIF) into upright BGR arrays."""

from __future__ import annotations

import io
import logging
import struct

import numpy as np
import pillow_heif
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from recognition.errors import (
    CorruptImage,
    EmptyImage,
    ImageError,
    ImageTooLarge,
    TooManyPixels,
    UnsupportedImage,
)
from recognition.types import Limits

logger = logging.getLogger(__name__)

_ALPHA_MODES = frozenset({"RGBA", "LA", "PA", "RGBa", "La"})
# Modes Pillow uses for 16-bit greyscale PNGs (samples 0..65535).
_WIDE_GREY_MODES = frozenset({"I", "I;16", "I;16L", "I;16B", "I;16N"})

# HEIC/HEIF (what iPhones save) through pillow-heif's libheif + libde265. Registered once, as a
# Pillow plugin named "HEIF"; thumbnails, depth maps and auxiliary images are never read.
# libheif applies the container's rotation and mirroring (irot/imir) while decoding and
# pillow-heif then resets the EXIF orientation tag to 1, so exif_transpose below never turns
# an iPhone photo twice (the HEIF specification makes irot/imir authoritative, not EXIF).
pillow_heif.register_heif_opener(thumbnails=False, depth_images=False, aux_images=False)
# ISO-BMFF brands of HEVC-coded HEIF images and sequences; AVIF (AV1) and MP4 are not HEIC.
_HEIC_BRANDS = frozenset({b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs"})


def _is_heic(data: bytes) -> bool:
    # An ISO-BMFF file starts with its ftyp box: size, "ftyp", major brand, minor version,
    # then compatible brands to the end of the box.
    if len(data) < 16 or data[4:8] != b"ftyp":
        return False
    size = struct.unpack(">I", data[:4])[0]
    end = min(max(size, 16), len(data), 256)
    brands = [data[8:12]] + [data[i : i + 4] for i in range(16, end - 3, 4)]
    return any(brand in _HEIC_BRANDS for brand in brands)


def sniff_format(data: bytes) -> str | None:
    """Return the Pillow format name for JPEG/PNG/WebP/HEIC magic bytes, or None."""
    if data.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    if _is_heic(data):
        return "HEIF"
    return None


def decode_image(data: bytes, limits: Limits) -> np.ndarray:
    """Decode untrusted bytes into an EXIF-oriented BGR uint8 array of shape (H, W, 3)."""
    if not data:
        raise EmptyImage("no image data")
    if len(data) > limits.max_image_bytes:
        raise ImageTooLarge(f"{len(data)} bytes is over the {limits.max_image_bytes} byte limit")
    fmt = sniff_format(data)
    if fmt is None:
        raise UnsupportedImage("not a JPEG, PNG, WebP or HEIC image")
    if ImageFile.LOAD_TRUNCATED_IMAGES:
        # Another module enabled this process-wide; truncated files would then decode
        # half grey instead of failing, and faces from such images are garbage.
        logger.warning("PIL.ImageFile.LOAD_TRUNCATED_IMAGES is on: truncated images may pass")

    try:
        # formats= keeps Pillow on the plugin we sniffed: no fallback to exotic decoders.
        with Image.open(io.BytesIO(data), formats=[fmt]) as im:
            # open() parses the header only, so this check runs before any pixel is allocated
            # (for HEIF too: libheif refuses to decode more pixels than the header declares).
            width, height = im.size
            if width <= 0 or height <= 0:
                raise CorruptImage("image has no pixels")
            if width * height > limits.max_pixels:
                raise TooManyPixels(f"{width}x{height} is over the {limits.max_pixels} pixel limit")
            # Animated WebP/APNG: the first frame is what a viewer shows as the still. A HEIF
            # file with several images opens on its primary one, which need not be the first.
            if fmt != "HEIF":
                im.seek(0)
            im.load()
            if im.size != (width, height):
                raise CorruptImage(f"decoded {im.size} differs from the declared {width}x{height}")
            upright = ImageOps.exif_transpose(im)
            pixels = np.asarray(_to_rgb(upright), dtype=np.uint8)
    except ImageError:
        # Our own verdicts (ImageError is a ValueError) must not be rewrapped below.
        raise
    except Image.DecompressionBombError as exc:
        raise TooManyPixels(str(exc)) from exc
    except UnidentifiedImageError as exc:
        raise CorruptImage(f"cannot identify {fmt} data") from exc
    except (OSError, SyntaxError, ValueError, EOFError, RuntimeError, struct.error) as exc:
        # Pillow signals truncated or malformed data with any of these (libheif: RuntimeError).
        raise CorruptImage(f"cannot decode {fmt} data: {exc}") from exc

    if pixels.ndim != 3 or pixels.shape[2] != 3:
        raise CorruptImage(f"unexpected decoded shape {pixels.shape}")
    # OpenCV and insightface work in BGR.
    return np.ascontiguousarray(pixels[:, :, ::-1])


def _to_rgb(im: Image.Image) -> Image.Image:
    mode = im.mode
    if mode == "RGB":
        return im
    if mode in _WIDE_GREY_MODES:
        # Pillow's convert("RGB") clips 16-bit samples at 255, turning most of the image white.
        wide = np.asarray(im, dtype=np.float64)
        grey = np.clip(wide / 257.0, 0, 255).astype(np.uint8)
        return Image.fromarray(np.stack([grey] * 3, axis=-1), mode="RGB")
    if mode == "P":
        im = im.convert("RGBA") if "transparency" in im.info else im.convert("RGB")
        mode = im.mode
    if mode in _ALPHA_MODES:
        rgba = im.convert("RGBA")
        # Transparent areas become white (what a chat client shows), not black.
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    # CMYK, YCbCr, L, 1, LAB, HSV: Pillow converts these correctly.
    return im.convert("RGB")
