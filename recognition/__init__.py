"""Image bytes to faces (decode, detect, align, judge, embed); no asyncio, SQL or Telegram."""

from recognition.errors import (
    CorruptImage,
    EmptyImage,
    ImageError,
    ImageTooLarge,
    ModelError,
    TooManyPixels,
    UnsupportedImage,
)
from recognition.types import Analysis, DetectedFace, Limits, ModelPack, Quality

__all__ = [
    "Analysis",
    "CorruptImage",
    "DetectedFace",
    "EmptyImage",
    "ImageError",
    "ImageTooLarge",
    "Limits",
    "ModelError",
    "ModelPack",
    "Quality",
    "TooManyPixels",
    "UnsupportedImage",
]
