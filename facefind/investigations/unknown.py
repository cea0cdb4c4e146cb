"""Unknown faces as the front ends use them: a person a lookup found no candidate for is kept as
a sighting and searched among past sightings (placed by facefind.scoring.unknown_persons); the
officer's reply tells when the same face was photographed before; admins list the unknown
persons, name one as an identity or dismiss a wrong grouping; the nightly pass. Each audited."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg

from facefind.access.actors import SYSTEM_ACTOR, Requester
from facefind.access.rules import require_admin
from facefind.analysis import Person
from facefind.enroll.photo import IdentitySpec, clean_spec
from facefind.scoring.sightings import choose_references
from facefind.scoring.unknown_persons import NightlyReport, nightly_pass, place_sighting
from gallery import Gallery
from gallery.sighting_records import NewSighting, Sighting, UnknownPerson
from recognition.quality import quality_score

logger = logging.getLogger(__name__)

# why a sighting is in no group without being compared: the model pack has no calibration, so
# no rate can be stated for a join
NO_CALIBRATION = "no_calibration"


@dataclass(frozen=True)
class UnknownPersonCard:
    person: UnknownPerson
    sightings: list[Sighting]  # oldest first, with their crops


class UnknownFaces:
    """Sightings and unknown persons for one model pack. `calibration` is the band policy's
    (None: sightings are kept, each on its own, and never grouped)."""

    def __init__(
        self,
        gallery: Gallery,
        model: str,
        recipe: str,
        calibration: Any | None,
        *,
        gallery_changed: Any = None,
    ) -> None:
        self.gallery = gallery
        self.model = model
        self.recipe = recipe
        self.calibration = calibration
        self.gallery_changed = gallery_changed or (lambda: None)
        self._noted = False

    # --- a lookup's people without a candidate -------------------------------------------
    async def keep(
        self,
        lookup_id: int,
        requester: Requester,
        people: Sequence[Person],
        *,
        source_sha256: str | None = None,
    ) -> dict[int, int | None]:
        """Keep each person as a sighting of their best face (its own embedding: what the
        calibration speaks of) and place it among the past sightings; a person kept already
        (the lookup's job ran again) is not kept twice. {person: the unknown person joined}."""
        placed: dict[int, int | None] = {}
        for person in people:
            kept = await self.gallery.sightings.of_person(lookup_id, person.index)
            if kept is not None:
                placed[person.index] = kept[1]
                continue
            new = self._sighting(lookup_id, requester, person, source_sha256)
            try:
                placed[person.index] = await self._place(new)
            except asyncpg.UniqueViolationError:
                kept = await self.gallery.sightings.of_person(lookup_id, person.index)
                placed[person.index] = kept[1] if kept else None
        return placed

    def _sighting(
        self, lookup_id: int, requester: Requester, person: Person, source: str | None
    ) -> NewSighting:
        face = person.face
        return NewSighting(
            model=self.model,
            embedding=face.embedding,
            recipe=self.recipe,
            det_score=face.det_score,
            quality=face.quality.as_dict(),
            quality_score=quality_score(face.quality),
            low_quality=not face.quality.ok,
            bbox=face.bbox,
            crop_jpeg=person.crop_jpeg,
            lookup_id=lookup_id,
            actor=requester.actor,
            user_id=requester.user_id,
            photo_index=person.photo_index,
            source_sha256=source,
            face_index=person.index,
        )

    async def _place(self, new: NewSighting) -> int | None:
        if self.calibration is None:
            if not self._noted:
                logger.info(
                    "model pack %s has no calibration: faces without a candidate are kept as "
                    "sightings but not grouped (no rate of wrongly joined strangers can be "
                    "stated); see docs/calibration.md",
                    self.model,
                )
                self._noted = True
            async with self.gallery.sightings.placing() as p:
                await p.add(new, state="alone", reason=NO_CALIBRATION)
            return None
        placed = await place_sighting(self.gallery.sightings, new, self.calibration)
        return placed.group_id

    async def seen_before(self, lookup_id: int) -> dict[int, list[Sighting]]:
        """For each person of the lookup whose sighting joined an unknown person: the earlier
        sightings of that person, oldest first (what the reply counts)."""
        out: dict[int, list[Sighting]] = {}
        for s in await self.gallery.sightings.of_lookup(lookup_id):
            if s.face_index is None or s.group_id is None:
                continue
            earlier = await self.gallery.sightings.seen_before(s.id)
            if earlier:
                out[s.face_index] = earlier
        return out

    # --- admins ---------------------------------------------------------------------------
    async def listing(
        self, requester: Requester, *, limit: int = 20, offset: int = 0
    ) -> list[UnknownPerson]:
        """The open unknown persons, the last seen first. Admins only; audited."""
        require_admin(requester)
        found = await self.gallery.sightings.unknown_persons(self.model, limit=limit, offset=offset)
        await self.gallery.audit.append(requester.actor, "unknown_persons.list", None, {})
        return found

    async def view(self, group_id: int, requester: Requester) -> UnknownPersonCard | None:
        """An unknown person with all its sightings. Admins only; audited."""
        require_admin(requester)
        found = await self.gallery.sightings.unknown_person(group_id)
        if found is None:
            return None
        await self.gallery.audit.append(
            requester.actor, "unknown_person.view", f"unknown_person:{group_id}", {}
        )
        return UnknownPersonCard(*found)

    async def sighting_picture(self, sighting_id: int, requester: Requester) -> bytes | None:
        """A sighting's face for a page that shows it (None: gone with retention); admins only.
        Not audited one by one: the page that showed it was."""
        require_admin(requester)
        return await self.gallery.sightings.crop(sighting_id)

    async def name(self, group_id: int, spec: IdentitySpec, requester: Requester) -> int | None:
        """Turn an open unknown person into an identity whose references are its best
        sightings (facefind.scoring.sightings.choose_references); its sightings leave every
        search. The identity's id; None when it is not open. Admins only; audited as
        `unknown_person.name` (and the identity's creation and faces)."""
        require_admin(requester)
        spec = clean_spec(spec)
        found = await self.gallery.sightings.unknown_person(group_id)
        if found is None or found[0].state != "open":
            return None
        refs = choose_references([(s.id, not s.low_quality, s.quality_score) for s in found[1]])
        identity_id = await self.gallery.sightings.name(
            group_id,
            display_name=spec.name,
            reference_ids=refs,
            actor=requester.actor,
            external_ref=spec.external_ref,
            notes=spec.notes,
        )
        if identity_id is not None:
            self.gallery_changed()
        return identity_id

    async def dismiss(self, group_id: int, requester: Requester) -> bool:
        """A wrong grouping: the unknown person ends and its sightings are never grouped
        together again. False when it is not open. Admins only; audited."""
        require_admin(requester)
        return await self.gallery.sightings.dismiss(group_id, requester.actor)

    async def nightly(self, requester: Requester | None = None) -> NightlyReport | None:
        """The nightly pass: groups merged on strong evidence, deferred sightings placed again.
        None (with a note in the log) without a calibration."""
        requester = requester or Requester.system()
        require_admin(requester)
        if self.calibration is None:
            logger.info(
                "sightings' nightly pass skipped: model pack %s has no calibration", self.model
            )
            return None
        return await nightly_pass(
            self.gallery.sightings,
            self.model,
            self.calibration,
            actor=requester.actor if requester.actor else SYSTEM_ACTOR,
        )
