"""Image bytes to faces (decode, detect, align, judge, embed); no asyncio, SQL or Telegram."""

from recognition.errors import (
    CorruptImage,
    EmptyImage,
    ImageError,
    ImageTooLarge,
    ModelError,
    TooManyFrames,
    TooManyPixels,
    UnsupportedImage,
    VideoTooLong,
)
from recognition.types import Analysis, DetectedFace, Limits, ModelPack, Quality, VideoLimits

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
    "TooManyFrames",
    "TooManyPixels",
    "UnsupportedImage",
    "VideoLimits",
    "VideoTooLong",
]
