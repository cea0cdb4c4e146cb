"""Albums in PostgreSQL: a media group's parts recorded once each, however often their updates
are handled; taken once, only after no part came for the wait, as one lookup recorded in the
same transaction; a part that comes later is left to be a photo of its own; retention clears
the parts' file ids once the album is no longer waiting."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from gallery import Gallery

USER = 31
NO_WAIT = timedelta(0)


async def part(g: Gallery, message_id: int, caption: str | None = None):
    return await g.albums.add_part(
        chat_id=USER,
        media_group_id="g-1",
        user_id=USER,
        language="en",
        message_id=message_id,
        update_id=100 + message_id,
        file_id=f"file-{message_id}",
        file_size=1000,
        caption=caption,
    )


async def test_an_album_is_taken_once_as_one_lookup_after_its_parts(gallery: Gallery) -> None:
    await gallery.users.set_status(USER, "approved", "test", create=True)
    first = await part(gallery, 11, "caption")
    again = await part(gallery, 11, "caption")  # the same update handled again
    assert first.new and not again.new
    album = (await part(gallery, 12)).album
    assert [p.message_id for p in album.parts] == [11, 12] and album.taken_at is None

    # not quiet for an hour yet: nothing is taken, no lookup recorded
    hour = timedelta(hours=1)
    assert not await gallery.albums.take(album, taker=12, purpose="lookup", wait=hour, actor="t")
    assert await gallery.pool.fetchval("SELECT count(*) FROM lookups") == 0
    # read before a part arrived: the take sees the album moved on
    stale = album
    album = (await part(gallery, 13)).album
    assert not await gallery.albums.take(stale, taker=12, purpose="lookup", wait=NO_WAIT, actor="t")
    assert await gallery.albums.take(album, taker=13, purpose="lookup", wait=NO_WAIT, actor="t")
    assert not await gallery.albums.take(album, taker=13, purpose="lookup", wait=NO_WAIT, actor="t")

    taken = await gallery.albums.get(album.id)
    assert taken is not None and taken.purpose == "lookup" and taken.taken_by == 13
    assert taken.lookup_id is not None
    lookup = await gallery.lookups.get(taken.lookup_id)
    assert lookup is not None and (lookup.media, lookup.message_id) == ("album", 11)
    assert (await gallery.albums.of_lookup(taken.lookup_id)) == taken

    # a part after the take is not the album's: a photo of its own
    late = await part(gallery, 14)
    assert late.new and [p.message_id for p in late.album.parts] == [11, 12, 13]

    # retention: the parts' file ids and captions go once the lookup is no longer pending
    await gallery.lookups.finish(taken.lookup_id, actor="t", status="no_face")
    assert await gallery.albums.purge_before(datetime.now(UTC) + hour) == 3
    cleared = await gallery.albums.get(album.id)
    assert cleared is not None
    assert {(p.file_id, p.caption) for p in cleared.parts} == {(None, None)}
