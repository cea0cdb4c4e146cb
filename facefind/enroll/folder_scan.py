"""Enrollment folders: one subfolder of photos per identity, and an optional identities.csv."""

from __future__ import annotations

import csv
from pathlib import Path

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp"}
# the picture with numbered boxes written next to a photo whose faces tie; never enrolled itself
REVIEW_SUFFIX = ".faces.jpg"


def is_photo(path: Path) -> bool:
    return (
        path.is_file()
        and path.suffix.lower() in IMAGE_SUFFIXES
        and not path.name.lower().endswith(REVIEW_SUFFIX)
        and not path.name.startswith(".")
    )


def identity_name(folder_name: str) -> str:
    """A folder name as an identity's display name: 'Ada_Lovelace' -> 'Ada Lovelace'."""
    return " ".join(folder_name.replace("_", " ").split())


def scan_folder(root: Path) -> list[tuple[str, str | None, str | None, list[Path]]]:
    """(identity name, external_ref, notes, photos) for each subfolder of an enrollment folder."""
    if not root.is_dir():
        raise FileNotFoundError(f"not a folder: {root}")
    details = read_identities_csv(root / "identities.csv")
    found = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        name = identity_name(folder.name)
        ref, notes = details.get(name.lower(), (None, None))
        photos = sorted(p for p in folder.iterdir() if is_photo(p))
        found.append((name, ref, notes, photos))
    return found


def read_identities_csv(path: Path) -> dict[str, tuple[str | None, str | None]]:
    """name (lower-case) -> (external_ref, notes) from an optional identities.csv."""
    if not path.is_file():
        return {}
    out: dict[str, tuple[str | None, str | None]] = {}
    with path.open(newline="", encoding="utf-8-sig") as fh:
        for row in csv.DictReader(fh):
            name = identity_name(row.get("name") or "")
            if name:
                out[name.lower()] = (
                    (row.get("external_ref") or "").strip() or None,
                    (row.get("notes") or "").strip() or None,
                )
    return out
