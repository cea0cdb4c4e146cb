"""The service's state as an admin reads it: the gallery's size and the bands in force, what
waits (queue, undelivered replies, unhandled updates, access requests), the workers, and the
latest `facefind eval` run."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from facefind.access.actors import Requester
from facefind.access.rules import require_admin
from facefind.eval_results import LatestEval, read_latest
from facefind.scoring.bands import Bands
from facefind.scoring.in_force import BandsInForce
from gallery import Gallery
from gallery.jobs import QueueState


@dataclass(frozen=True)
class ServiceStatus:
    model: str
    bands: Bands  # the gallery's size and the bands in force for it
    lookups_open: int  # waiting or being answered
    undelivered: int
    inbox_unhandled: int
    pending_users: int
    queue: QueueState
    evaluation: LatestEval | None


class StatusReport:
    """What the console's /status and the bot's /status read."""

    def __init__(self, gallery: Gallery, bands: BandsInForce) -> None:
        self.gallery = gallery
        self.bands = bands

    async def report(self, requester: Requester, data_dir: Path) -> ServiceStatus:
        """The state now; admins only. Not audited: it names nobody."""
        require_admin(requester)
        g = self.gallery
        return ServiceStatus(
            model=self.bands.model,
            bands=await self.bands.current(),
            lookups_open=await g.lookups.count_open(),
            undelivered=await g.lookups.count_undelivered(),
            inbox_unhandled=await g.inbox.count_unhandled(),
            pending_users=len(await g.users.all("pending")),
            queue=await g.jobs.queue_state(),
            evaluation=read_latest(data_dir),
        )

    def latest_eval(self, requester: Requester, data_dir: Path) -> LatestEval | None:
        """The latest `facefind eval` run (its plots); admins only."""
        require_admin(requester)
        return read_latest(data_dir)
