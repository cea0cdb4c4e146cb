"""Safe decoding: bad input is refused quickly with a precise error, unusual but valid images
decode to the right pixels."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import pytest

from recognition import (
    CorruptImage,
    EmptyImage,
    ImageError,
    ImageTooLarge,
    Limits,
    TooManyPixels,
    UnsupportedImage,
)
from recognition.decode import decode_image
from recognition.models import (
    resolve_model_pack,
)
from recognition.pipeline import FaceAnalyzer
from tests.images import (
    PDF_BYTES,
    T1,
    TEXT_BYTES,
    TOM_HANKS,
    animated_webp,
    cmyk_jpeg,
    decompression_bomb_png,
    gif_bytes,
    grey16_png,
    palette_png,
    read_bytes,
    read_image,
    rgba_png,
    to_png,
    truncated,
    zip_bytes,
)

LIMITS = Limits()


@pytest.fixture(scope="module")
def analyzer() -> FaceAnalyzer:
    return FaceAnalyzer(resolve_model_pack(None), LIMITS, threads=1)


# --- bad input is refused quickly with a precise error --------------------------------------

BAD_INPUTS: dict[str, tuple[Callable[[], bytes], type[ImageError]]] = {
    "empty": (lambda: b"", EmptyImage),
    "text": (lambda: TEXT_BYTES, UnsupportedImage),
    "pdf": (lambda: PDF_BYTES, UnsupportedImage),
    "gif": (lambda: gif_bytes(read_image(TOM_HANKS)), UnsupportedImage),
    "zip": (zip_bytes, UnsupportedImage),
    "jpeg_magic_only": (lambda: b"\xff\xd8\xff\xe0" + b"\x00" * 64, CorruptImage),
    "truncated_jpeg": (lambda: truncated(read_bytes(T1)), CorruptImage),
    "truncated_png": (lambda: truncated(to_png(read_image(TOM_HANKS))), CorruptImage),
    "bomb_png": (decompression_bomb_png, TooManyPixels),
    "bomb_png_under_pillow_limit": (lambda: decompression_bomb_png(8000, 8000), TooManyPixels),
}


@pytest.mark.parametrize("name", list(BAD_INPUTS))
def test_bad_input_raises_its_error_fast(name: str) -> None:
    make, error = BAD_INPUTS[name]
    data = make()
    started = time.perf_counter()
    with pytest.raises(error) as raised:
        decode_image(data, LIMITS)
    assert time.perf_counter() - started < 1.0
    assert raised.value.code == error.code


def test_bytes_over_the_limit_are_refused_before_decoding() -> None:
    data = read_bytes(T1)
    with pytest.raises(ImageTooLarge):
        decode_image(data, Limits(max_image_bytes=len(data) - 1))


def test_pixel_limit_is_configurable() -> None:
    with pytest.raises(TooManyPixels):
        decode_image(read_bytes(T1), Limits(max_pixels=1280 * 886 - 1))
    assert decode_image(read_bytes(T1), Limits(max_pixels=1280 * 886)).shape == (886, 1280, 3)


def test_analyze_raises_image_errors(analyzer: FaceAnalyzer) -> None:
    with pytest.raises(UnsupportedImage):
        analyzer.analyze(PDF_BYTES)


# --- unusual but valid images decode to the right BGR pixels --------------------------------


def test_transparent_png_is_composited_on_white() -> None:
    img = np.zeros((20, 30, 3), dtype=np.uint8)
    img[:, :, 2] = 200  # red in BGR
    alpha = np.full((20, 30), 255, dtype=np.uint8)
    alpha[:, :15] = 0
    decoded = decode_image(rgba_png(img, alpha), LIMITS)
    assert decoded.shape == (20, 30, 3)
    assert (decoded[:, :15] == 255).all()
    assert (decoded[:, 15:] == (0, 0, 200)).all()


def test_16_bit_greyscale_png_keeps_its_tones() -> None:
    grey = np.tile(np.linspace(0, 65535, 64).astype(np.uint16), (8, 1))
    decoded = decode_image(grey16_png(grey), LIMITS)
    assert decoded.shape == (8, 64, 3) and decoded.dtype == np.uint8
    np.testing.assert_allclose(decoded[0, :, 0], grey[0] / 257, atol=1)
    assert (decoded[:, :, 0] == decoded[:, :, 2]).all()


def test_palette_and_cmyk_images_decode_to_colour() -> None:
    image = read_image(T1)[300:420, 450:600]
    for data in (palette_png(image), cmyk_jpeg(image)):
        decoded = decode_image(data, LIMITS)
        assert decoded.shape == image.shape
        assert np.abs(decoded.astype(int) - image.astype(int)).mean() < 12


def test_animated_webp_yields_its_first_frame() -> None:
    first = np.full((16, 16, 3), (255, 0, 0), dtype=np.uint8)
    second = np.full((16, 16, 3), (0, 0, 255), dtype=np.uint8)
    decoded = decode_image(animated_webp([first, second]), LIMITS)
    assert (decoded == first).all()
