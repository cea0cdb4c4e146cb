"""Moving a gallery between deployments: `facefind gallery export FILE` / `import FILE`.

The file is a zip (ZIP64, stored: embeddings and JPEG crops do not compress) of:
  manifest.json      format, model name, detector/recognizer SHA-256, embedding recipe, counts,
                     and the SHA-256 of every other member
  identities.jsonl   one identity per line: uid (kept across deployments), name, reference...
  faces.jsonl        one face per line, in the order of the two binary members
  embeddings.f32     the faces' embeddings, float32, 512 per face
  crops.bin          the faces' aligned crops (JPEG), back to back (faces.jsonl has the sizes)
  templates.jsonl / templates.f32   the identities' templates, as a check after the import
A file made with another model, pack files or recipe is refused; importing a file twice adds
nothing the second time (identities are matched by uid, faces by photo). Identities forgotten in
the receiving gallery are not brought back. The file holds biometric data: it is written 0600.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import zipfile
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import numpy as np

from gallery import Gallery
from gallery.bulk import NewFace, NewIdentity
from recognition import ModelPack

logger = logging.getLogger(__name__)

FORMAT = "facefind-gallery"
FORMAT_VERSION = 1
DIM = 512
BATCH = 500
MEMBERS = (
    "identities.jsonl", "faces.jsonl", "embeddings.f32", "crops.bin", "templates.jsonl",
    "templates.f32",
)  # fmt: skip


class TransferRefused(Exception):
    """The file cannot be imported here: another model, a damaged file, an unknown format."""


class TransferPathError(Exception):
    """The path given cannot be written to or read from as asked (checked before any work)."""


def check_export_path(path: Path, *, overwrite: bool, example: str = "gallery.zip") -> None:
    """Refuse a target that is a folder, lies in a folder that does not exist, or exists
    already (unless `overwrite`): each would otherwise fail late or lose a file silently."""
    if path.is_dir():
        raise TransferPathError(f"{path} is a folder: give a file name, such as {path / example}")
    parent = path.parent
    if not parent.is_dir():
        raise TransferPathError(f"cannot write {path}: the folder {parent} does not exist")
    if path.exists() and not overwrite:
        raise TransferPathError(f"{path} exists already: add --force to overwrite it")


def check_import_path(path: Path, *, what: str = "gallery file") -> None:
    if path.is_dir():
        raise TransferPathError(f"{path} is a folder, not a {what}")
    if not path.exists():
        raise TransferPathError(f"no such file: {path}")


@dataclass
class TransferSummary:
    identities: int = 0
    faces: int = 0
    identities_created: int = 0
    faces_added: int = 0
    forgotten_here: int = 0  # identities of the file forgotten in this gallery: not restored
    template_max_diff: float = 0.0  # exported vs rebuilt templates


def _json_default(value: object) -> object:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"cannot write {type(value).__name__}")


class _HashingWriter:
    """A zip member writer that also hashes what it writes."""

    def __init__(self, stream: IO[bytes]) -> None:
        self.stream = stream
        self.digest = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> None:
        self.digest.update(data)
        self.size += len(data)
        self.stream.write(data)


async def export_gallery(
    gallery: Gallery,
    pack: ModelPack,
    recipe: str,
    path: Path,
    actor: str,
    progress: Callable[[int], None] | None = None,
    *,
    overwrite: bool = False,
) -> TransferSummary:
    """Write every active identity and face of this model pack to `path`: into a partial file
    beside it first, so a failed export neither leaves half a file nor harms an older one."""
    partial = path.with_name(f".{path.name}.partial")
    fd = await asyncio.to_thread(_open_partial, path, partial, overwrite)
    try:
        summary = await _write_export(gallery, pack, recipe, fd, actor, progress)
        await asyncio.to_thread(_put_in_place, partial, path, overwrite)
    except BaseException:
        await asyncio.to_thread(partial.unlink, missing_ok=True)
        raise
    await gallery.audit.append(
        actor,
        "gallery.export",
        None,
        {"model": pack.name, "identities": summary.identities, "faces": summary.faces},
    )
    return summary


def _open_partial(path: Path, partial: Path, overwrite: bool) -> int:
    check_export_path(path, overwrite=overwrite)
    partial.unlink(missing_ok=True)  # left by an export that was killed
    return os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)


def _put_in_place(partial: Path, path: Path, overwrite: bool) -> None:
    if path.exists() and not overwrite:  # it appeared while exporting
        raise TransferPathError(f"{path} exists already: add --force to overwrite it")
    os.replace(partial, path)


async def _write_export(
    gallery: Gallery,
    pack: ModelPack,
    recipe: str,
    fd: int,
    actor: str,
    progress: Callable[[int], None] | None,
) -> TransferSummary:
    summary = TransferSummary()
    hashes: dict[str, str] = {}
    with os.fdopen(fd, "wb") as raw, zipfile.ZipFile(raw, "w", zipfile.ZIP_STORED) as zf:
        async with gallery.bulk.export_snapshot(pack.name) as snap:

            async def member(name: str, chunks: AsyncIterator[bytes]) -> int:
                count = 0
                with zf.open(name, "w", force_zip64=True) as stream:
                    out = _HashingWriter(stream)
                    async for chunk in chunks:
                        out.write(chunk)
                        count += 1
                hashes[name] = out.digest.hexdigest()
                return count

            identities = await snap.identities()

            async def identity_lines() -> AsyncIterator[bytes]:
                for ident in identities:
                    yield _line(ident)

            summary.identities = await member("identities.jsonl", identity_lines())

            async def face_lines() -> AsyncIterator[bytes]:
                async for face in snap.face_meta():
                    yield _line(face)

            summary.faces = await member("faces.jsonl", face_lines())

            async def embeddings() -> AsyncIterator[bytes]:
                async for vector in snap.face_embeddings():
                    yield vector.astype("<f4").tobytes()

            async def crops() -> AsyncIterator[bytes]:
                async for crop in snap.face_crops():
                    if progress:
                        progress(1)
                    yield crop

            await member("embeddings.f32", embeddings())
            await member("crops.bin", crops())
            templates = [t async for t in snap.templates()]

            async def template_lines() -> AsyncIterator[bytes]:
                for uid, _, refs in templates:
                    yield _line({"uid": uid, "ref_count": refs})

            async def template_vectors() -> AsyncIterator[bytes]:
                for _, vector, _ in templates:
                    yield vector.astype("<f4").tobytes()

            await member("templates.jsonl", template_lines())
            await member("templates.f32", template_vectors())
        manifest = {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "model": pack.name,
            "detector_sha256": pack.detector_sha256,
            "recognizer_sha256": pack.recognizer_sha256,
            "recipe": recipe,
            "dim": DIM,
            "identities": summary.identities,
            "faces": summary.faces,
            "created_at": datetime.now(UTC).isoformat(),
            "created_by": actor,
            "members": hashes,
        }
        zf.writestr("manifest.json", json.dumps(manifest, indent=1))
    return summary


def _line(record: dict[str, Any]) -> bytes:
    return json.dumps(record, ensure_ascii=False, default=_json_default).encode() + b"\n"


def read_manifest(path: Path) -> dict[str, Any]:
    check_import_path(path)
    try:
        with zipfile.ZipFile(path) as zf:
            manifest: dict[str, Any] = json.loads(zf.read("manifest.json"))
    except (zipfile.BadZipFile, KeyError, json.JSONDecodeError) as exc:
        raise TransferRefused(f"{path} is not a facefind gallery file: {exc}") from exc
    except OSError as exc:
        raise TransferPathError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if manifest.get("format") != FORMAT or manifest.get("version") != FORMAT_VERSION:
        raise TransferRefused(f"{path} is not a facefind gallery file of version {FORMAT_VERSION}")
    return manifest


def check_file(path: Path, pack: ModelPack, recipe: str) -> dict[str, Any]:
    """The manifest, once the file is known to fit this deployment and to be intact."""
    manifest = read_manifest(path)
    if (manifest["model"], manifest["recognizer_sha256"]) != (pack.name, pack.recognizer_sha256):
        raise TransferRefused(
            f"the file holds embeddings of model {manifest['model']} (recognizer "
            f"{manifest['recognizer_sha256'][:12]}…); this deployment runs {pack.name} "
            f"({pack.recognizer_sha256[:12]}…): the two cannot be compared. Import it into a "
            "deployment running that model (where `facefind reembed --from-model` can move it)"
        )
    if manifest["recipe"] != recipe:
        raise TransferRefused(
            f"the file's embeddings were made with recipe {manifest['recipe']}, this version "
            f"uses {recipe}: run `facefind reembed` where it was exported, then export again"
        )
    with zipfile.ZipFile(path) as zf:
        for name in MEMBERS:
            digest = hashlib.sha256()
            try:
                with zf.open(name) as stream:
                    while chunk := stream.read(1 << 20):
                        digest.update(chunk)
            except KeyError as exc:
                raise TransferRefused(f"{path} lacks {name}") from exc
            if digest.hexdigest() != manifest["members"].get(name):
                raise TransferRefused(f"{path} is damaged: {name} does not match its checksum")
    return manifest


def _faces(zf: zipfile.ZipFile) -> Iterator[tuple[dict[str, Any], np.ndarray, bytes]]:
    with (
        zf.open("faces.jsonl") as meta,
        zf.open("embeddings.f32") as vectors,
        zf.open("crops.bin") as crops,
    ):
        for line in meta:
            face = json.loads(line)
            vector = np.frombuffer(vectors.read(DIM * 4), dtype="<f4").astype(np.float32)
            yield face, vector, crops.read(int(face["crop_bytes"]))


async def import_gallery(
    gallery: Gallery,
    pack: ModelPack,
    recipe: str,
    path: Path,
    actor: str,
    progress: Callable[[int], None] | None = None,
) -> TransferSummary:
    """Add the file's identities and faces to this gallery (see the module's notes)."""
    manifest = check_file(path, pack, recipe)
    summary = TransferSummary(identities=manifest["identities"], faces=manifest["faces"])
    with zipfile.ZipFile(path) as zf:
        identities = [json.loads(line) for line in zf.read("identities.jsonl").splitlines()]
        known = await gallery.bulk.identities_by_uid([i["uid"] for i in identities])
        new = [i for i in identities if i["uid"] not in known]
        created = await gallery.bulk.create_identities(
            [NewIdentity(i["display_name"], i["external_ref"], i["notes"], i["uid"]) for i in new],
            actor,
        )
        summary.identities_created = len(created)
        ids = {uid: ident for uid, (ident, forgotten) in known.items() if not forgotten}
        ids.update(zip((i["uid"] for i in new), created, strict=True))
        summary.forgotten_here = sum(1 for _, forgotten in known.values() if forgotten)
        defer = summary.faces >= max(20_000, await gallery.faces.count(pack.name))
        if defer:
            await gallery.indexes.defer(actor)
        try:
            batch: list[NewFace] = []
            for face, vector, crop in _faces(zf):
                if face["uid"] in ids:
                    batch.append(
                        NewFace(
                            identity_id=ids[face["uid"]],
                            embedding=vector,
                            det_score=face["det_score"],
                            quality=face["quality"],
                            bbox=face["bbox"],
                            crop_jpeg=crop,
                            source_sha256=face["source_sha256"],
                            low_quality=face["low_quality"],
                        )
                    )
                if len(batch) >= BATCH:
                    summary.faces_added += await _add(gallery, batch, pack.name, recipe, actor)
                    if progress:
                        progress(len(batch))
                    batch = []
            summary.faces_added += await _add(gallery, batch, pack.name, recipe, actor)
            if progress:
                progress(len(batch))
        finally:
            if defer:
                await gallery.indexes.restore(actor)
        fresh = {i["uid"]: ids[i["uid"]] for i in new}
        summary.template_max_diff = await _compare_templates(gallery, zf, fresh, pack.name)
    await gallery.audit.append(
        actor,
        "gallery.import",
        None,
        {
            "model": pack.name,
            "file_created_at": manifest["created_at"],
            "identities_created": summary.identities_created,
            "faces_added": summary.faces_added,
            "forgotten_here": summary.forgotten_here,
        },
    )
    return summary


async def _add(gallery: Gallery, batch: list[NewFace], model: str, recipe: str, actor: str) -> int:
    if not batch:
        return 0
    ids = await gallery.bulk.copy_faces(batch, model=model, recipe=recipe, actor=actor)
    return sum(1 for i in ids if i is not None)


# templates checked after an import: a sample is enough to show the faces arrived whole
TEMPLATES_CHECKED = 1000


async def _compare_templates(
    gallery: Gallery, zf: zipfile.ZipFile, ids: dict[str, int], model: str
) -> float:
    """The largest difference between an exported template and the one rebuilt here, over
    (a sample of) the identities this import created."""
    lines = zf.read("templates.jsonl").splitlines()
    vectors = np.frombuffer(zf.read("templates.f32"), dtype="<f4").reshape(-1, DIM)
    worst = 0.0
    checked = 0
    for line, exported in zip(lines, vectors, strict=True):
        uid = json.loads(line)["uid"]
        if uid not in ids or checked >= TEMPLATES_CHECKED:
            continue
        checked += 1
        rebuilt = await gallery.templates.of(ids[uid], model)
        if rebuilt is not None:
            worst = max(worst, float(np.abs(rebuilt[0] - exported).max()))
    return worst
