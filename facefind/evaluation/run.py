"""`facefind eval`: an accuracy check on the operator's labelled photos, in a scratch database.

The first K photos of each person with more than K photos are enrolled through the service's
own enrollment; every other photo is identified, and people with K photos or fewer stand for
people who are not enrolled. Nothing touches the operator's gallery: the scratch database is
created on the configured server and dropped at the end.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import math
import secrets
import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from facefind.access.actors import Requester
from facefind.enroll.choice import choose_face
from facefind.enroll.folder_scan import scan_folder
from facefind.errors import AmbiguousFaces, NoFaceFound
from facefind.eval_results import save_latest
from facefind.evaluation import plots as eval_plots
from facefind.evaluation import report as eval_report
from facefind.evaluation.plots import Targets
from facefind.evaluation.report import ProbeResult
from facefind.runtime.database import locate
from facefind.runtime.settings import Settings
from facefind.scoring.calibration_files import operator_calibration_path, save_calibration
from facefind.service import FaceFind
from gallery.db import create_database, database_dsn, drop_database
from recognition import Analysis, DetectedFace, ImageError

logger = logging.getLogger(__name__)

SEARCH_LIMIT = 10


class NothingToEvaluate(ValueError):
    """The folder gives no enrolled person to search for: no rate would mean anything."""


@dataclass(frozen=True)
class Person:
    name: str
    photos: list[Path]


def filed_face(analysis: Analysis) -> tuple[DetectedFace | None, str]:
    """The face a photo is filed for, by the enrollment rule; where that rule sees a tie, the
    face nearest the image centre (the labelled-photo convention), so a tie is still measured."""
    try:
        face, chosen_by = choose_face(analysis.faces, analysis.width, analysis.height)
    except NoFaceFound:
        return None, "none"
    except AmbiguousFaces:
        width, height = analysis.width, analysis.height
        centre = min(
            analysis.faces,
            key=lambda f: math.hypot(
                (f.bbox[0] + f.bbox[2] - width) / 2, (f.bbox[1] + f.bbox[3] - height) / 2
            ),
        )
        return centre, "centre"
    return face, chosen_by


def read_people(root: Path) -> list[Person]:
    """One person per subfolder, photos in name order (as `facefind enroll` reads them)."""
    people = [Person(name, photos) for name, _ref, _notes, photos in scan_folder(root)]
    names = [p.name.lower() for p in people]
    clashes = sorted({n for n in names if names.count(n) > 1})
    if clashes:
        raise ValueError("several folders give the same identity name: " + ", ".join(clashes))
    return people


async def _scratch_settings(settings: Settings) -> tuple[Settings, str, str]:
    """Settings for a new, empty database on the configured server, with the same split of
    roles (the owner migrates, the runtime role runs), sealed with a throwaway audit key; and
    the connection and name to drop it with."""
    db = await locate(settings)
    admin = db.owner_url or db.app_url  # who may create (and drop) a database
    name = f"facefind_eval_{uuid.uuid4().hex[:12]}"
    owner_dsn = await create_database(admin, name)
    if db.owner_url is None:
        scratch = dataclasses.replace(settings, database_url=owner_dsn)
    else:
        scratch = dataclasses.replace(
            settings, database_url=database_dsn(db.app_url, name), database_owner_url=owner_dsn
        )
    # The scratch log is dropped with the database; the operator's audit key is not needed.
    return dataclasses.replace(scratch, audit_key=secrets.token_hex(32)), admin, name


async def evaluate(
    settings: Settings,
    root: Path,
    *,
    references: int,
    out: Path,
    calibrate: bool = False,
    progress: Callable[[int], None] | None = None,
    on_total: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Run the check; return report.json's content (also written to `out`, with the plots).

    `on_total` hears how many photos will be read, `progress` each one done.
    """
    if references < 1:
        raise ValueError("--refs must be at least 1")
    people = await asyncio.to_thread(read_people, root)
    if not any(len(p.photos) > references for p in people):
        raise NothingToEvaluate(
            f"nothing to enroll in {root}: it needs one subfolder of photos per person, and "
            f"people with more than {references} photo(s) (the first {references} are enrolled, "
            "the rest searched)"
        )
    if on_total:
        enrolled = sum(len(p.photos) > references for p in people)
        total = sum(len(p.photos) for p in people)
        on_total(total + (enrolled * references if calibrate else 0))
    scratch, server, db_name = await _scratch_settings(settings)
    requester = Requester.cli()
    try:
        service = await FaceFind.open(scratch, actor=requester.actor)
        try:
            report = await _run(
                service, settings, root, people, references, out, calibrate, progress
            )
        finally:
            await service.close()
    finally:
        await drop_database(server, db_name)
    return report


async def _run(
    service: FaceFind,
    settings: Settings,
    root: Path,
    people: list[Person],
    k: int,
    out: Path,
    calibrate: bool,
    progress: Callable[[int], None] | None,
) -> dict[str, Any]:
    requester = Requester.cli()
    to_enroll = [p for p in people if len(p.photos) > k]
    plan: list[tuple[str, str | None, str | None, list[Path]]] = [
        (p.name, None, None, p.photos[:k]) for p in to_enroll
    ]
    folder = await service.enroll_plan(
        plan, requester, progress=(lambda _p: progress(1)) if progress else None
    )
    identities = {
        i.display_name.lower(): i for i in await service.gallery.identities.all() if i.face_count
    }
    truth = {
        p.name: identities[p.name.lower()].id for p in to_enroll if p.name.lower() in identities
    }
    if not truth:
        raise NothingToEvaluate(
            f"none of the {len(to_enroll)} people to enroll could be enrolled (no usable face in "
            f"their first {k} photo(s)): there is nothing to measure"
        )

    jobs: list[tuple[Person, Path, bool]] = []
    for p in people:
        meant = len(p.photos) > k
        jobs.extend((p, photo, meant) for photo in (p.photos[k:] if meant else p.photos))
    references = [(p, photo) for p in to_enroll for photo in p.photos[:k]] if calibrate else []
    slots = asyncio.Semaphore(max(2, 2 * settings.inference_workers))
    embeddings: dict[Path, tuple[str, np.ndarray]] = {}

    async def probe(person: Person, photo: Path, meant: bool, search: bool = True) -> ProbeResult:
        async with slots:
            result = ProbeResult(
                str(photo.relative_to(root)), person.name, meant, truth.get(person.name), "none"
            )
            try:
                data = await asyncio.to_thread(photo.read_bytes)
                analysis, _crops = await service.analysis.analyze(data)
            except (ImageError, OSError) as exc:
                result.chosen_by = f"error:{getattr(exc, 'code', 'unreadable')}"
                return result
            finally:
                if progress:
                    progress(1)
            face, result.chosen_by = filed_face(analysis)
            if face is None:
                return result
            if calibrate:
                embeddings[photo] = (person.name, face.embedding)
            if not search:
                return result
            matches = await service.gallery.search.identities(
                face.embedding, service.model, limit=SEARCH_LIMIT
            )
            result.scores = [(m.identity_id, float(m.similarity)) for m in matches]
            return result

    probes = await asyncio.gather(*(probe(*job) for job in jobs))
    # Reference photos: only their embeddings, for --calibrate.
    await asyncio.gather(*(probe(p, photo, True, search=False) for p, photo in references))

    service.bands.gallery_changed()  # the bands follow the gallery just enrolled
    bands = await service.bands.current()
    thresholds = bands.thresholds
    shown = service.identifier.candidates_per_face
    report: dict[str, Any] = {
        "folder": str(root),
        "references": k,
        "model": service.model,
        "recipe": service.analyzer.embedding_recipe,
        "thresholds": {
            **bands.as_dict(),
            "predicted_false_candidate": bands.false_candidate_rate(thresholds.possible),
            "predicted_false_strong": bands.false_candidate_rate(thresholds.strong),
        },
        "candidates_shown": shown,
        "gallery": {
            "people": len(people),
            "people_to_enroll": len(to_enroll),
            "identities_enrolled": len(truth),
            "faces_enrolled": folder.enrolled,
            "people_refused": sorted(p.name for p in to_enroll if p.name not in truth),
            "skipped": [[path, reason] for path, reason in folder.skipped],
            "enrollment": folder.as_dict(),
        },
        "probes": eval_report.describe(probes),
        "at_bands": eval_report.rates(probes, thresholds, shown).as_dict(),
        "sweep": eval_report.sweep(probes, shown),
        "targets": {
            "false_candidate": settings.possible_target,
            "false_strong": settings.strong_target,
        },
        "calibration": None,
    }
    title = (
        f"{service.model}: {len(truth)} identities, {k} reference(s); "
        f"bands {thresholds.possible:.3f} / {thresholds.strong:.3f}"
    )
    targets = Targets(settings.possible_target, settings.strong_target)
    plots = await asyncio.to_thread(
        eval_plots.write_plots, out, probes, thresholds, shown, title, targets
    )
    report["plots"] = [p.name for p in plots]
    if calibrate:
        report["calibration"] = await asyncio.to_thread(
            _calibrate, service, settings, root, list(embeddings.values())
        )
    eval_report.write_report(out, report)
    await asyncio.to_thread(eval_report.write_probes, out, probes)
    # the console's /status shows the latest run, wherever --out put it
    await asyncio.to_thread(save_latest, settings.data_dir, out, report["plots"])
    return report


def _calibrate(
    service: FaceFind, settings: Settings, root: Path, labelled: list[tuple[str, np.ndarray]]
) -> dict[str, Any]:
    """Write <data dir>/calibrations/<pack>.json from every photo's filed face."""
    from facefind.scoring.fitting import build_calibration

    pack = service.analyzer.pack
    names = np.array([name for name, _ in labelled])
    _, labels = np.unique(names, return_inverse=True)
    vectors = np.stack([v for _, v in labelled]).astype(np.float32)
    path = operator_calibration_path(settings.data_dir, pack.name)
    try:
        cal = build_calibration(
            vectors,
            labels,
            model=pack.name,
            recognizer_sha256=pack.recognizer_sha256,
            detector_sha256=pack.detector_sha256,
            recipe=service.analyzer.embedding_recipe,
            fusion=service.gallery.search.fusion,  # how this service scores identities
            source=f"facefind eval --calibrate on {len(set(names))} people, {len(names)} photos",
        )
    except ValueError as exc:
        print(f"not calibrated: {exc}", file=sys.stderr)
        return {"path": None, "error": str(exc)}
    save_calibration(cal, path)
    return {
        "path": str(path),
        "floor": cal.floor,
        "references": sorted(cal.curves),
        "comparisons": cal.curves[1].comparisons,
        "fusion": cal.fusion,
    }
