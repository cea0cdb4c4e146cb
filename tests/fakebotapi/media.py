"""The fake Bot API's clips as Telegram delivers them: a video, a round video note, or a GIF
animation (which Telegram also hands over as a document, for older clients)."""

from __future__ import annotations

from tests.fakebotapi.common import JSON, StoredFile, _document_dict

CLIP_KINDS = ("video", "video_note", "animation")


def clip_content(kind: str, stored: StoredFile, *, duration: int, side: int) -> JSON:
    """The message fields of a clip of `kind` held by `stored` (`side`: its width and height,
    as far as the message says)."""
    common: JSON = {"file_id": stored.file_id, "file_unique_id": stored.file_unique_id}
    if stored.size_known:
        common["file_size"] = stored.file_size
    if kind == "video_note":
        return {"video_note": {**common, "length": side, "duration": duration}}
    media = {**common, "width": side, "height": side, "duration": duration}
    if stored.mime_type:
        media["mime_type"] = stored.mime_type
    if stored.file_name:
        media["file_name"] = stored.file_name
    if kind == "animation":
        return {"animation": media, "document": _document_dict(stored)}
    if kind == "video":
        return {"video": media}
    raise ValueError(f"unknown clip kind {kind!r}")
