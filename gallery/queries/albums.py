"""The SQL of albums (gallery/albums.py): a media group's parts as they arrive, and the one
handler that takes the album."""

from __future__ import annotations

ALBUM_UPSERT = """
INSERT INTO albums (chat_id, media_group_id, user_id, language)
VALUES ($1, $2, $3, $4)
ON CONFLICT (chat_id, media_group_id) DO UPDATE SET chat_id = albums.chat_id
RETURNING id"""
ALBUM_LOCK = """
SELECT id, chat_id, media_group_id, user_id, language, created_at, last_part_at, taken_at,
       taken_by, purpose, lookup_id, done_at
FROM albums WHERE id = $1 FOR UPDATE"""
ALBUM_GET = """
SELECT id, chat_id, media_group_id, user_id, language, created_at, last_part_at, taken_at,
       taken_by, purpose, lookup_id, done_at
FROM albums WHERE id = $1"""
PART_INSERT = """
INSERT INTO album_parts (album_id, message_id, update_id, file_id, file_size, caption)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (album_id, message_id) DO NOTHING
RETURNING message_id"""
PART_EXISTS = "SELECT 1 FROM album_parts WHERE album_id = $1 AND message_id = $2"
ALBUM_PART_ARRIVED = "UPDATE albums SET last_part_at = now() WHERE id = $1 AND taken_at IS NULL"
PARTS = """
SELECT message_id, update_id, file_id, file_size, caption, arrived_at FROM album_parts
WHERE album_id = $1 ORDER BY message_id"""
# no part came for the wait (the row is locked by ALBUM_LOCK)
ALBUM_QUIET = "SELECT last_part_at <= now() - $2::interval FROM albums WHERE id = $1"
ALBUM_TAKE = """
UPDATE albums SET taken_at = now(), taken_by = $2, purpose = $3, lookup_id = $4
WHERE id = $1 AND taken_at IS NULL"""
ALBUM_DONE = "UPDATE albums SET done_at = now() WHERE id = $1 AND done_at IS NULL RETURNING id"
ALBUM_OF_LOOKUP = "SELECT id FROM albums WHERE lookup_id = $1"
# retention: the parts' Telegram file ids and captions, once the album is no longer waiting
RETENTION_PURGE_PARTS = """
UPDATE album_parts p SET file_id = NULL, caption = NULL
FROM albums a LEFT JOIN lookups l ON l.id = a.lookup_id
WHERE a.id = p.album_id AND a.created_at < $1 AND a.taken_at IS NOT NULL
  AND (p.file_id IS NOT NULL OR p.caption IS NOT NULL)
  AND (l.id IS NULL OR l.status <> 'pending')"""
