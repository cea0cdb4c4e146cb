"""The service: one object per process that holds its parts (identification, enrollment, erasure,
decisions on users, the record of lookups and identities), each given only what it uses."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from facefind.access.actors import Requester
from facefind.access.audit_key import load_audit_key
from facefind.access.audit_trail import AuditTrail
from facefind.access.decisions import UserDecisions
from facefind.access.erasure import Eraser
from facefind.access.init_data import console_base_url
from facefind.access.web_sessions import WebSessions
from facefind.analysis import PoolAnalyzer
from facefind.enroll.folder import FolderLoader, FolderReport, Plan
from facefind.enroll.photo import Enroller
from facefind.errors import StaleEmbeddings
from facefind.identify import Identifier
from facefind.identity_cards import IdentityCards
from facefind.identity_edits import IdentityEditor
from facefind.investigations.unknown import UnknownFaces
from facefind.investigations.watch import ALERT_WINDOW, Watchlist
from facefind.lookup_log import LookupLog
from facefind.runtime.database import open_pool, prepare
from facefind.runtime.inference import InferencePool
from facefind.runtime.settings import Settings
from facefind.scoring.bands import BandPolicy
from facefind.scoring.calibration_files import load_calibration
from facefind.scoring.in_force import BandsInForce
from facefind.service_status import StatusReport
from gallery import Gallery
from gallery.search import DEFAULT_FUSION
from recognition import Limits
from recognition.models import resolve_model_pack
from recognition.pipeline import FaceAnalyzer
from recognition.types import VideoLimits

logger = logging.getLogger(__name__)


class FaceFind:
    """Identify and enroll faces, and the actions every front end shares. One instance per
    process, shared by all requests; its parts:

    - `analysis`: the models on the inference pool (analyses, pictures)
    - `bands`: the bands in force for the gallery's size
    - `identifier`: lookups, photo -> faces -> candidates
    - `enroller`: reference faces one photo at a time (`folder_loader` for a folder)
    - `eraser`: forget, restore, purge
    - `users`: decisions on users, the user list
    - `lookup_log`: a lookup shown again, lists, the CSV export, feedback
    - `identity_cards`: identities found and shown
    - `watchlist`: watched identities and the alerts lookups raise
    - `unknown`: sightings of faces without a candidate, grouped into unknown persons
    - `identity_edits`: renames and merges of identities
    - `audit_trail`: the audit log read, checked and exported
    - `status`: the service's state for admins
    - `web_sessions`: signing in to the console (links, the Mini App, sessions)
    """

    def __init__(
        self,
        analyzer: FaceAnalyzer,
        gallery: Gallery,
        policy: BandPolicy,
        inference: InferencePool,
        *,
        candidates_per_face: int = 3,
        video_limits: VideoLimits | None = None,
        alert_window: timedelta = ALERT_WINDOW,
        console_url: str | None = "http://127.0.0.1:8081",
        bot_token: str | None = None,
    ) -> None:
        self.analyzer = analyzer
        self.gallery = gallery
        self.inference = inference
        self.model = analyzer.model_name
        self.analysis = PoolAnalyzer(analyzer, inference, gallery, video_limits)
        self.bands = BandsInForce(gallery, policy, self.model)
        self.watchlist = Watchlist(gallery, window=alert_window)
        self.unknown = UnknownFaces(
            gallery,
            self.model,
            analyzer.embedding_recipe,
            policy.calibration,
            gallery_changed=self.bands.gallery_changed,
        )
        self.identifier = Identifier(
            gallery,
            self.analysis,
            self.bands,
            candidates_per_face=candidates_per_face,
            unknown=self.unknown,
            watchlist=self.watchlist,
        )
        self.enroller = Enroller(gallery, self.analysis, self.bands)
        self.eraser = Eraser(gallery, self.bands.gallery_changed)
        self.users = UserDecisions(gallery)
        self.lookup_log = LookupLog(gallery)
        self.identity_cards = IdentityCards(gallery)
        self.identity_edits = IdentityEditor(gallery, self.bands.gallery_changed)
        self.audit_trail = AuditTrail(gallery)
        self.status = StatusReport(gallery, self.bands)
        self.web_sessions = WebSessions(gallery, base_url=console_url, bot_token=bot_token)
        self.dsn: str | None = None  # set by `open`: the task queue connects with it
        # set by `open`: the embedded server's data, when this process started it
        self.embedded: Path | None = None

    @property
    def limits(self) -> Limits:
        return self.analyzer.limits

    # --- lifecycle ------------------------------------------------------------------------
    @classmethod
    async def open(
        cls, settings: Settings, *, actor: str = "system", check_embeddings: bool = True
    ) -> FaceFind:
        """Database up and migrated, models loaded and verified, model registered, the gallery's
        embeddings made by this model and recipe (else StaleEmbeddings: run facefind reembed)."""
        key = load_audit_key(settings)
        db = await prepare(settings, key, actor=actor)
        pool = await open_pool(
            db, key, max_size=settings.db_pool_size, acquire_timeout=settings.db_acquire_timeout
        )
        inference = InferencePool(settings.inference_workers)
        try:
            pack = await inference.run(resolve_model_pack, settings.model_dir)
            analyzer = await inference.run(
                FaceAnalyzer, pack, settings.limits, settings.onnx_threads
            )
            gallery = Gallery(
                pool,
                audit_key=key,
                owner_dsn=db.owner_url,
                ef_search=settings.search_ef,
                shortlist=settings.search_shortlist,
            )
            await gallery.models.register(pack.name, pack.detector_sha256, pack.recognizer_sha256)
            if check_embeddings:
                await check_gallery_embeddings(gallery, pack.name, analyzer.embedding_recipe)
            if deferred := await gallery.indexes.deferred():
                logger.warning(
                    "vector indexes %s are missing after an interrupted bulk load: searches are "
                    "exact but slow until `facefind migrate` (or the next load) builds them",
                    ", ".join(deferred),
                )
            calibration = load_calibration(pack.name, pack.recognizer_sha256, settings.data_dir)
            if calibration is not None and calibration.recipe != analyzer.embedding_recipe:
                logger.warning(
                    "the calibration of %s was made with embedding recipe %s, not %s: ignored",
                    pack.name,
                    calibration.recipe,
                    analyzer.embedding_recipe,
                )
                calibration = None
            gallery.search.fusion = calibration.fusion if calibration else DEFAULT_FUSION
            service = cls(
                analyzer,
                gallery,
                BandPolicy(settings, calibration, pack.name),
                inference,
                candidates_per_face=settings.candidates_per_face,
                video_limits=settings.video_limits,
                alert_window=timedelta(seconds=settings.alert_window),
                console_url=(
                    console_base_url(settings.web_url, settings.web_listen)
                    if settings.console_enabled
                    else None
                ),
                bot_token=settings.telegram_bot_token,
            )
            await service.bands.current()
        except BaseException:
            await pool.close()
            inference.shutdown()
            raise
        service.dsn = db.app_url  # the task queue connects as the same (runtime) role
        service.embedded = db.embedded
        return service

    async def close(self) -> None:
        await self.gallery.pool.close()
        await asyncio.to_thread(self.inference.shutdown)

    # --- a folder of people ---------------------------------------------------------------
    def folder_loader(
        self,
        requester: Requester,
        *,
        workers: int = 1,
        model_dir: Path | None = None,
        check_duplicates: bool | None = None,
        progress: Callable[[Path], None] | None = None,
    ) -> FolderLoader:
        """A folder load (facefind.enroll.folder) on this service's gallery, models and bands.
        `workers` > 1 analyses in that many processes (`model_dir`: the pack they load)."""
        return FolderLoader(
            self.gallery,
            self.analysis,
            self.bands,
            requester,
            workers=workers,
            model_dir=model_dir,
            check_duplicates=check_duplicates,
            progress=progress,
        )

    async def enroll_plan(
        self,
        plan: Plan,
        requester: Requester,
        *,
        workers: int = 1,
        model_dir: Path | None = None,
        check_duplicates: bool | None = None,
        progress: Callable[[Path], None] | None = None,
    ) -> FolderReport:
        """Enroll a folder's people (facefind.enroll.folder_scan.scan_folder)."""
        loader = self.folder_loader(
            requester,
            workers=workers,
            model_dir=model_dir,
            check_duplicates=check_duplicates,
            progress=progress,
        )
        return await loader.run(plan)


async def check_gallery_embeddings(gallery: Gallery, model: str, recipe: str) -> None:
    """Refuse a gallery whose faces were embedded otherwise: their scores are not comparable."""
    stale = await gallery.faces.of_other_recipes(model, recipe)
    if stale:
        counts = ", ".join(f"{n} with {r}" for r, n in stale.items())
        raise StaleEmbeddings(
            f"the gallery's faces of model {model} were embedded differently ({counts}; this "
            f"version uses {recipe}): run `facefind reembed` to re-embed them from their crops"
        )
    others = await gallery.faces.of_other_models(model)
    if others:
        logger.warning(
            "the gallery also holds faces of other model packs (%s) that model %s cannot "
            "search: `facefind reembed --from-model NAME` embeds them with this one",
            ", ".join(f"{m}: {n}" for m, n in sorted(others.items())),
            model,
        )
