"""JPEG images the bot sends: numbered face boxes and query/reference pairs."""

from __future__ import annotations

import functools
import importlib.util
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from recognition.types import DetectedFace

# face numbers on boxes are digits: OpenCV's Hershey font; labels are words in the reader's
# language: a TrueType font with Cyrillic (see label_font_path)
_FONT = cv2.FONT_HERSHEY_SIMPLEX
# Saturated colours that stay readable on skin, sky and dark clothes alike (BGR).
_PALETTE: tuple[tuple[int, int, int], ...] = (
    (0, 200, 255),
    (255, 160, 0),
    (80, 220, 80),
    (60, 60, 255),
    (255, 80, 255),
    (255, 255, 0),
)
_WHITE = (255, 255, 255)
_BLACK = (0, 0, 0)
PAIR_FACE_PX = 224


def encode_jpeg(img: np.ndarray, quality: int = 90) -> bytes:
    """Encode a BGR image as JPEG bytes."""
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise ValueError(f"cannot encode an image of shape {img.shape} as JPEG")
    return buf.tobytes()


def decode_jpeg(data: bytes) -> np.ndarray:
    """Decode JPEG bytes we produced ourselves (stored crops) into a BGR image."""
    img = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR)
    if img is None:
        raise ValueError("cannot decode JPEG data")
    return np.asarray(img)


@functools.cache
def label_font_path() -> str | None:
    """DejaVu Sans from the installed matplotlib (Latin and Cyrillic glyphs), found without
    importing matplotlib; None when it is missing (labels then fall back to Pillow's font)."""
    spec = importlib.util.find_spec("matplotlib")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "mpl-data/fonts/ttf/DejaVuSans.ttf"
    return str(path) if path.is_file() else None


@functools.cache
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    path = label_font_path()
    if path is None:
        return ImageFont.load_default(size=size)
    return ImageFont.truetype(path, size)


def _draw_label(strip: np.ndarray, text: str, max_size: int) -> np.ndarray:
    """Centre `text` on a white BGR strip, shrinking the font until it fits."""
    height, width = strip.shape[:2]
    canvas = Image.fromarray(strip[:, :, ::-1])
    draw = ImageDraw.Draw(canvas)
    size = max_size
    while True:
        font = _font(size)
        left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
        if right - left <= width - 8 or size <= 8:
            break
        size -= 1
    x = (width - (right - left)) // 2 - left
    y = (height - (bottom - top)) // 2 - top
    draw.text((x, y), text, fill=(0, 0, 0), font=font)
    return np.asarray(canvas)[:, :, ::-1].copy()


def draw_numbered_boxes(
    image: np.ndarray, faces: Sequence[DetectedFace], max_side: int = 1280
) -> bytes:
    """Return a JPEG of the image with each face boxed and labelled with its `index`."""
    height, width = image.shape[:2]
    scale = min(1.0, max_side / max(height, width))
    canvas = image.copy()
    if scale < 1.0:
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        canvas = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    out_h, out_w = canvas.shape[:2]
    # Line widths and numbers grow with the picture so they stay readable in a chat preview.
    base = max(out_h, out_w)
    line = max(2, round(base / 400))
    for face in faces:
        color = _PALETTE[(face.index - 1) % len(_PALETTE)]
        x1, y1, x2, y2 = (round(v * scale) for v in face.bbox)
        cv2.rectangle(canvas, (x1, y1), (x2, y2), color, line, cv2.LINE_AA)
        label = str(face.index)
        # Numbers scale with the picture and with the face, so a chat thumbnail still shows them.
        font_scale = max(base / 900, min(x2 - x1, y2 - y1) / 80, 0.8)
        thickness = max(2, round(font_scale * 2))
        (tw, th), baseline = cv2.getTextSize(label, _FONT, font_scale, thickness)
        pad = max(3, round(th * 0.25))
        # Label above the box, or inside its top edge when the box touches the top.
        top = y1 - th - baseline - 2 * pad
        if top < 0:
            top = max(0, y1)
        left = min(max(0, x1), max(0, out_w - tw - 2 * pad))
        cv2.rectangle(
            canvas, (left, top), (left + tw + 2 * pad, top + th + baseline + 2 * pad), color, -1
        )
        cv2.putText(
            canvas,
            label,
            (left + pad, top + pad + th),
            _FONT,
            font_scale,
            _BLACK,
            thickness,
            cv2.LINE_AA,
        )
    return encode_jpeg(canvas)


def _labelled_tile(face: np.ndarray, label: str, size: int) -> np.ndarray:
    tile = cv2.resize(face, (size, size), interpolation=cv2.INTER_CUBIC)
    strip_h = max(28, size // 7)
    strip = np.full((strip_h, size, 3), 255, dtype=np.uint8)
    return np.vstack([tile, _draw_label(strip, label, max(10, round(strip_h * 0.6)))])


def side_by_side(
    query_crop: np.ndarray, reference_jpeg: bytes | None, left_label: str, right_label: str
) -> bytes:
    """Return a JPEG with the query face and a reference face side by side, labelled below.

    Without a reference picture (a face imported without one, or erased) the right tile is a
    plain grey square: the reader sees at once that there is nothing to compare with."""
    if reference_jpeg:
        reference = decode_jpeg(reference_jpeg)
    else:
        reference = np.full((PAIR_FACE_PX, PAIR_FACE_PX, 3), 200, dtype=np.uint8)
    left = _labelled_tile(query_crop, left_label, PAIR_FACE_PX)
    right = _labelled_tile(reference, right_label, PAIR_FACE_PX)
    gap = np.full((left.shape[0], 8, 3), 255, dtype=np.uint8)
    return encode_jpeg(np.hstack([left, gap, right]))
