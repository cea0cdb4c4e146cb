"""Albums: a Telegram media group's parts recorded as they arrive (each is its own update), and
the album taken once, when no part came for a while: as one lookup, recorded in the same
transaction, or as an enrollment of all its photos."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from gallery.database import Database
from gallery.lookups import Lookups
from gallery.queries import albums as q

PURPOSES = ("lookup", "enroll", "refused")


@dataclass(frozen=True)
class AlbumPart:
    message_id: int
    update_id: int | None
    file_id: str | None  # None once retention cleared it
    file_size: int | None
    caption: str | None
    arrived_at: datetime


@dataclass(frozen=True)
class Album:
    id: int
    chat_id: int
    media_group_id: str
    user_id: int
    language: str | None
    created_at: datetime
    last_part_at: datetime
    taken_at: datetime | None
    taken_by: int | None  # the message whose handler took it
    purpose: str | None  # lookup | enroll | refused (the sender's hourly limit), once taken
    lookup_id: int | None
    done_at: datetime | None
    parts: tuple[AlbumPart, ...] = ()


@dataclass(frozen=True)
class PartAdded:
    album: Album
    new: bool  # False: this part was recorded before (its update is handled again)


class Albums:
    """Media groups while their parts arrive, and their end as a lookup or an enrollment."""

    def __init__(self, db: Database, lookups: Lookups) -> None:
        self.db = db
        self.lookups = lookups

    async def add_part(
        self,
        *,
        chat_id: int,
        media_group_id: str,
        user_id: int,
        language: str | None,
        message_id: int,
        update_id: int | None,
        file_id: str,
        file_size: int | None,
        caption: str | None,
    ) -> PartAdded:
        """Record a part of a media group. A part that comes after its album was taken is not
        recorded (`new` and not in the album's parts): it is a photo of its own."""
        async with self.db.transaction() as con:
            album_id = await con.fetchval(
                q.ALBUM_UPSERT, chat_id, media_group_id, user_id, language
            )
            row = await con.fetchrow(q.ALBUM_LOCK, album_id)
            known = await con.fetchval(q.PART_EXISTS, album_id, message_id) is not None
            if row["taken_at"] is None and not known:
                await con.execute(
                    q.PART_INSERT, album_id, message_id, update_id, file_id, file_size, caption
                )
                await con.execute(q.ALBUM_PART_ARRIVED, album_id)
            album = await self._read(con, album_id)
        assert album is not None
        return PartAdded(album, not known)

    async def get(self, album_id: int) -> Album | None:
        async with self.db.pool.acquire() as con:
            return await self._read(con, album_id)

    async def of_lookup(self, lookup_id: int) -> Album | None:
        """The album a lookup was recorded for, with its parts (its photos, in order)."""
        async with self.db.pool.acquire() as con:
            album_id = await con.fetchval(q.ALBUM_OF_LOOKUP, lookup_id)
            return await self._read(con, album_id) if album_id is not None else None

    async def take(
        self,
        album: Album,
        *,
        taker: int,
        purpose: str,
        wait: timedelta,
        actor: str,
        update_id: int | None = None,
    ) -> bool:
        """Take the album as it was read (`album.last_part_at`), once no part came for `wait`:
        for a lookup, one is recorded for it (its first part's message) in the same
        transaction. False when another handler took it, or a part came since."""
        if purpose not in PURPOSES:
            raise ValueError(f"unknown purpose {purpose!r}")
        async with self.db.transaction() as con:
            row = await con.fetchrow(q.ALBUM_LOCK, album.id)
            if (
                row is None
                or row["taken_at"] is not None
                or row["last_part_at"] != album.last_part_at
                or not await con.fetchval(q.ALBUM_QUIET, album.id, wait)
            ):
                return False
            lookup_id = None
            if purpose == "lookup":
                first = album.parts[0]
                lookup_id = await self.lookups.create(
                    user_id=album.user_id,
                    actor=actor,
                    source="telegram",
                    chat_id=album.chat_id,
                    message_id=first.message_id,
                    update_id=update_id if update_id is not None else first.update_id,
                    language=album.language,
                    media="album",
                    con=con,
                )
                if lookup_id is None:
                    return False  # its first message has a lookup of its own already
            await con.execute(q.ALBUM_TAKE, album.id, taker, purpose, lookup_id)
        return True

    async def done(self, album_id: int) -> bool:
        """An album enrolled and answered; False when it was already."""
        return await self.db.pool.fetchval(q.ALBUM_DONE, album_id) is not None

    async def purge_before(self, cutoff: datetime) -> int:
        """Retention: the Telegram file ids and captions of albums taken before the cutoff."""
        return int((await self.db.pool.execute(q.RETENTION_PURGE_PARTS, cutoff)).split()[-1])

    async def _read(self, con: Any, album_id: int) -> Album | None:
        row = await con.fetchrow(q.ALBUM_GET, album_id)
        if row is None:
            return None
        parts = tuple(AlbumPart(**dict(r)) for r in await con.fetch(q.PARTS, album_id))
        return Album(**dict(row), parts=parts)
