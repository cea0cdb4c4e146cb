"""Domain errors raised by the recognition pipeline; callers turn them into friendly replies."""


class ImageError(ValueError):
    """The input is not an image we can safely process. `code` is stable for callers and texts."""

    code = "bad_image"


class EmptyImage(ImageError):
    code = "empty"


class ImageTooLarge(ImageError):
    """More bytes than the configured limit."""

    code = "too_large"


class TooManyPixels(ImageError):
    """Width x height over the configured limit (decompression-bomb guard)."""

    code = "too_many_pixels"


class UnsupportedImage(ImageError):
    """Bytes are not a format we accept (JPEG, PNG, WebP, HEIC; for clips MP4/MOV, WebM/MKV,
    GIF with H.264, HEVC, VP8, VP9, AV1, MPEG-4 or GIF video)."""

    code = "unsupported"


class CorruptImage(ImageError):
    """Claims a supported format but cannot be decoded."""

    code = "corrupt"


class VideoTooLong(ImageError):
    """A clip longer than the configured limit (declared, or found while decoding)."""

    code = "too_long"


class TooManyFrames(ImageError):
    """A clip with more frames than the configured limit (a very high or forged frame rate)."""

    code = "too_many_frames"


class ModelError(RuntimeError):
    """Model files missing, unreadable, or failing their SHA-256 check."""
