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
    """Bytes are not JPEG, PNG or WebP (or another format we accept)."""

    code = "unsupported"


class CorruptImage(ImageError):
    """Claims a supported format but cannot be decoded."""

    code = "corrupt"


class ModelError(RuntimeError):
    """Model files missing, unreadable, or failing their SHA-256 check."""
