"""Loading a folder of people into the gallery: photos analysed in worker processes (or the
inference pool), decided person by person (facefind.enroll.choice.plan_person), and their faces
streamed to PostgreSQL with COPY, the vector indexes built once after a large load."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import multiprocessing
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from facefind.access.actors import Requester
from facefind.analysis import PoolAnalyzer
from facefind.enroll.choice import PhotoFaces, photo_faces, plan_person
from facefind.enroll.photo import IdentitySpec, clean_spec, find_identity, reference_of
from facefind.errors import AmbiguousIdentity
from facefind.scoring.assignment import SEARCH_DEPTH
from facefind.scoring.in_force import BandsInForce
from facefind.user_input import BadInput
from gallery import Gallery, Identity
from gallery.bulk import NewFace, NewIdentity
from gallery.server_settings import Machine, this_machine
from recognition import ImageError, Limits
from recognition.models import resolve_model_pack
from recognition.pipeline import FaceAnalyzer

logger = logging.getLogger(__name__)

# A load this large (in photos), and at least as large as the gallery, drops the vector
# indexes and builds them once at the end: several times faster than growing the graph.
DEFER_INDEXES_AT = 20_000
# Each new face is searched for other identities it already matches as strong (a sign of a
# mislabelled photo) in loads up to this size; a larger load skips it and says so.
DUPLICATE_CHECK_MAX = 5_000
FACES_PER_BATCH = 500
# `--workers auto`: a load this large (in photos) is analysed in one process per core. Each
# process loads its own models (1-2 s, about 300 MB); below this, one process is as quick.
AUTO_WORKERS_FROM = 200
_WORKER_MEMORY = 512 * 2**20  # budget per analysing process, from half the machine's memory

Plan = Sequence[tuple[str, str | None, str | None, list[Path]]]


@dataclass
class FolderReport:
    """What a folder enrollment did, photo by photo; `as_dict` counts it for --json."""

    enrolled: int = 0
    identities_created: int = 0
    people: int = 0
    people_enrolled: int = 0
    flagged: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)
    refused: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)
    # photos whose faces tie: (path, faces, JPEG with numbered boxes for the admin to choose)
    ties: list[tuple[str, int, bytes]] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    duplicates: list[tuple[str, str]] = field(default_factory=list)  # (path, other identity)
    not_enrolled: list[str] = field(default_factory=list)  # people left without a reference
    duplicate_check: bool = True
    indexes_deferred: bool = False

    def as_dict(self) -> dict[str, object]:
        return {
            "people": self.people,
            "people_enrolled": self.people_enrolled,
            "people_not_enrolled": self.not_enrolled,
            "faces_enrolled": self.enrolled,
            "identities_created": self.identities_created,
            "flagged": len(self.flagged),
            "refused": len(self.refused),
            "ties": len(self.ties),
            "skipped": len(self.skipped),
            "duplicate_warnings": len(self.duplicates),
            "duplicate_check": self.duplicate_check,
            "details": {
                "flagged": [{"photo": p, "reasons": list(r)} for p, r in self.flagged],
                "refused": [{"photo": p, "reasons": list(r)} for p, r in self.refused],
                "ties": [{"photo": p, "faces": n} for p, n, _ in self.ties],
                "skipped": [{"photo": p, "reason": r} for p, r in self.skipped],
                "duplicates": [{"photo": p, "matches": o} for p, o in self.duplicates],
            },
        }


# --- worker processes -------------------------------------------------------------------------
def auto_workers(photos: int, machine: Machine | None = None) -> int:
    """How many analysing processes a load of `photos` gets by default: one per core this
    process may use, as many as half the memory holds, or one for a small load."""
    if photos < AUTO_WORKERS_FROM:
        return 1
    machine = machine or this_machine()
    by_memory = machine.memory_bytes // 2 // _WORKER_MEMORY
    return max(1, min(machine.cores, by_memory))


_analyzer: FaceAnalyzer | None = None


def _init_worker(model_dir: Path | None, limits: Limits) -> None:
    """Load the models once per worker process, one ONNX thread each: the processes are the
    parallelism (the GIL would serialise threads)."""
    global _analyzer
    _analyzer = FaceAnalyzer(resolve_model_pack(model_dir), limits, threads=1)


def _analyse_in_worker(path: str, data: bytes) -> PhotoFaces | str:
    assert _analyzer is not None
    return analyse(_analyzer, path, data)


def analyse(analyzer: FaceAnalyzer, path: str, data: bytes) -> PhotoFaces | str:
    """The photo's faces, or why it cannot be read."""
    try:
        return photo_faces(analyzer, path, data)
    except ImageError as exc:
        return f"bad image ({exc.code}): {exc}"


# --- the loader -------------------------------------------------------------------------------
@dataclass
class _Person:
    spec: IdentitySpec
    photos: list[Path]
    results: list[asyncio.Task[PhotoFaces | str | None]]


@dataclass
class _Pending:
    """A face decided on, waiting for its batch: its identity (or the spec to create)."""

    target: Identity | IdentitySpec
    photo: PhotoFaces
    index: int  # the face's index in the photo
    flags: tuple[str, ...]


class FolderLoader:
    """One folder load. `workers` > 1 analyses in that many processes (`model_dir`: the pack
    they load); else the photos are analysed on `analysis`'s inference pool."""

    def __init__(
        self,
        gallery: Gallery,
        analysis: PoolAnalyzer,
        bands: BandsInForce,
        requester: Requester,
        *,
        workers: int = 1,
        model_dir: Path | None = None,
        check_duplicates: bool | None = None,
        progress: Callable[[Path], None] | None = None,
    ) -> None:
        self.gallery = gallery
        self.analysis = analysis
        self.bands = bands
        self.requester = requester
        self.workers = max(1, workers)
        self.model_dir = model_dir
        self.check_duplicates = check_duplicates
        self.progress = progress
        self.report = FolderReport()
        self._known: set[str] = set()
        self._created: dict[tuple[str, str | None], int] = {}  # identities made in this load
        self._batch: list[_Pending] = []
        self._writing: asyncio.Task[None] | None = None  # the batch being written
        self._executor: Executor | None = None

    async def run(self, plan: Plan) -> FolderReport:
        actor = self.requester.actor
        await self.gallery.indexes.restore(actor)  # one an interrupted load left behind
        self._known = await self.gallery.faces.source_hashes(self.analysis.model)
        total = sum(len(photos) for *_, photos in plan)
        existing = await self.gallery.faces.count(self.analysis.model)
        defer = total >= max(DEFER_INDEXES_AT, existing)
        check = self.check_duplicates
        self.report.duplicate_check = (total <= DUPLICATE_CHECK_MAX) if check is None else check
        self.report.indexes_deferred = defer
        if self.workers > 1:
            self._executor = ProcessPoolExecutor(
                self.workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_init_worker,
                initargs=(self.model_dir, self.analysis.limits),
            )
        try:
            if defer:
                await self.gallery.indexes.defer(actor)
            await self._load(plan)
            await self._flush()
            await self._written()
        finally:
            if self._writing is not None:  # a load that failed: its last batch commits or fails
                await asyncio.gather(self._writing, return_exceptions=True)
            if self._executor is not None:
                self._executor.shutdown(wait=True, cancel_futures=True)
            if defer:
                await self.gallery.indexes.restore(actor)
            self.bands.gallery_changed()
        return self.report

    async def _load(self, plan: Plan) -> None:
        """People in order, with the photos of the next people already being analysed."""
        in_flight = max(16, 8 * self.workers)
        queue: deque[_Person] = deque()
        people = iter(plan)
        waiting = 0
        while True:
            while waiting < in_flight:
                nxt = next(people, None)
                if nxt is None:
                    break
                name, ref, notes, photos = nxt
                tasks = [asyncio.create_task(self._analyse(p)) for p in photos]
                queue.append(_Person(IdentitySpec(name, ref, notes), list(photos), tasks))
                waiting += len(photos)
            if not queue:
                return
            person = queue.popleft()
            results = [await t for t in person.results]
            waiting -= len(person.photos)
            await self._person(person, results)
            if self.progress:
                for photo in person.photos:
                    self.progress(photo)

    async def _analyse(self, path: Path) -> PhotoFaces | str | None:
        """The photo's faces; None when it is already in the gallery; a reason it is not read."""
        try:
            data = await asyncio.to_thread(path.read_bytes)
        except OSError as exc:
            return f"cannot read: {exc.strerror or exc}"
        if hashlib.sha256(data).hexdigest() in self._known:
            return None
        if self._executor is not None:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._executor, _analyse_in_worker, str(path), data)
        analysis = self.analysis
        return await analysis.inference.run(analyse, analysis.analyzer, str(path), data)

    async def _person(self, person: _Person, results: list[PhotoFaces | str | None]) -> None:
        report, spec = self.report, person.spec
        report.people += 1
        photos: list[PhotoFaces] = []
        for path, result in zip(person.photos, results, strict=True):
            if result is None:
                report.skipped.append((str(path), "already enrolled"))
            elif isinstance(result, str):
                report.skipped.append((str(path), result))
            else:
                photos.append(result)
        if not person.photos:
            report.skipped.append((spec.name, "no photos"))
        try:
            spec = clean_spec(spec)  # the folder's name, as the bot's /enroll would store it
        except BadInput as exc:
            for photo in photos:
                report.skipped.append((photo.path, f"name not usable: {exc}"))
            report.not_enrolled.append(spec.name)
            return
        try:
            target = await self._target(spec)
        except AmbiguousIdentity as exc:
            for photo in photos:
                why = f"{len(exc.matches)} identities named {exc.name!r}"
                report.skipped.append((photo.path, why))
            report.not_enrolled.append(spec.name)
            return
        reference, has_good = None, False
        if isinstance(target, Identity):
            reference, has_good = await reference_of(self.gallery, self.analysis.model, target)
        plan = plan_person(photos, reference, has_good, self.analysis.limits)
        report.ties += plan.ties
        report.refused += plan.refused
        report.skipped += plan.skipped
        chosen = plan.faces
        for photo, face, _, flags in chosen:
            self._batch.append(_Pending(target, photo, face.index, flags))
            if flags:
                report.flagged.append((photo.path, flags))
        if chosen:
            report.people_enrolled += 1
        elif not isinstance(target, Identity) or target.face_count == 0:
            report.not_enrolled.append(spec.name)
        if len(self._batch) >= FACES_PER_BATCH:
            await self._flush()

    async def _written(self) -> None:
        """Wait for the batch being written; its failure is the load's."""
        if self._writing is not None:
            writing, self._writing = self._writing, None
            await writing

    async def _flush(self) -> None:
        """Start writing the batch beside the analysis, once the batch before it is written:
        batches go in order, one at a time, and the workers keep analysing meanwhile."""
        await self._written()
        if self._batch:
            batch, self._batch = self._batch, []
            self._writing = asyncio.create_task(self._write(batch))

    async def _target(self, spec: IdentitySpec) -> Identity | IdentitySpec:
        """The identity the person's folder names: one in the gallery, or to be created."""
        if (spec.name.lower(), spec.external_ref) in self._created:
            return spec
        found = await find_identity(self.gallery, spec.name, spec.external_ref)
        return found if found is not None else spec

    async def _write(self, batch: list[_Pending]) -> None:
        actor = self.requester.actor
        new_specs: dict[tuple[str, str | None], IdentitySpec] = {}
        for item in batch:
            if isinstance(item.target, IdentitySpec):
                key = (item.target.name.lower(), item.target.external_ref)
                if key not in self._created:
                    new_specs.setdefault(key, item.target)
        ids = await self.gallery.bulk.create_identities(
            [NewIdentity(s.name, s.external_ref, s.notes) for s in new_specs.values()], actor
        )
        self._created.update(zip(new_specs, ids, strict=True))
        self.report.identities_created += len(ids)

        def identity_id(target: Identity | IdentitySpec) -> int:
            if isinstance(target, Identity):
                return target.id
            return self._created[(target.name.lower(), target.external_ref)]

        faces = []
        for item in batch:
            face = item.photo.faces[item.index - 1]
            faces.append(
                NewFace(
                    identity_id=identity_id(item.target),
                    embedding=face.embedding,
                    det_score=face.det_score,
                    quality=face.quality.as_dict() | {"reference_flags": list(item.flags)},
                    bbox=face.bbox,
                    crop_jpeg=item.photo.crops[item.index - 1],
                    source_sha256=item.photo.sha256,
                    low_quality=bool(item.flags),
                )
            )
        face_ids = await self.gallery.bulk.copy_faces(
            faces,
            model=self.analysis.model,
            recipe=self.analysis.recipe,
            actor=actor,
        )
        self.report.enrolled += sum(1 for i in face_ids if i is not None)
        self._known.update(item.photo.sha256 for item in batch)
        self.bands.gallery_changed()
        if self.report.duplicate_check:
            await self._warn_duplicates(batch, faces, face_ids)

    async def _warn_duplicates(
        self, batch: list[_Pending], faces: list[NewFace], face_ids: list[int | None]
    ) -> None:
        """Other identities a new face already matches as strong: a photo filed under the
        wrong person, or one person enrolled twice."""
        thresholds = await self.bands.thresholds()
        for item, face, face_id in zip(batch, faces, face_ids, strict=True):
            if face_id is None:
                continue
            matches = await self.gallery.search.identities(
                face.embedding, self.analysis.model, limit=SEARCH_DEPTH
            )
            others = [
                m
                for m in matches
                if m.identity_id != face.identity_id and thresholds.band(m.similarity) == "strong"
            ]
            for m in others:
                self.report.duplicates.append(
                    (item.photo.path, f"{m.display_name} (#{m.identity_id}) {m.similarity:.2f}")
                )
            if others:
                await self.gallery.audit.append(
                    self.requester.actor,
                    "face.duplicate_warning",
                    f"face:{face_id}",
                    {"identity_id": face.identity_id, "matches": [m.identity_id for m in others]},
                )
