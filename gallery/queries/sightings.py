"""The SQL of sightings and unknown persons (gallery/sightings.py, gallery/sighting_placing.py):
the HNSW shortlists, the rows exact re-scoring reads, placements, merges, naming, dismissal,
retention and forgetting."""

from __future__ import annotations

# Placements, merges and admin decisions on groups run one at a time (a transaction-scoped
# lock): each decides on the groups as the one before left them.
SIGHTINGS_LOCK_ID = 7408331020247
SIGHTINGS_LOCK = "SELECT pg_advisory_xact_lock($1)"

_SIGHTING_VECTOR = "id, group_id, embedding, lookup_id, photo_index, apart, low_quality"
_SIGHTING_COLUMNS = """id, model, group_id, state, reason, lookup_id, lookup_face_id,
    photo_index, user_id, actor, quality_score, low_quality, created_at, face_index"""

SIGHTING_INSERT = """
INSERT INTO sightings (model, embedding, recipe, det_score, quality, quality_score, low_quality,
                       bbox, crop_jpeg, source_sha256, lookup_id, lookup_face_id, photo_index,
                       user_id, actor, group_id, state, reason, face_index)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)
RETURNING id"""
SIGHTING_OF_PERSON = "SELECT id, group_id FROM sightings WHERE lookup_id = $1 AND face_index = $2"
SIGHTING_GET = f"SELECT {_SIGHTING_COLUMNS} FROM sightings WHERE id = $1"
SIGHTING_CROP = "SELECT crop_jpeg FROM sightings WHERE id = $1"

# --- shortlists (half-precision copies; the caller re-scores exactly) -------------------------
GROUPED_SHORTLIST = """
SELECT id, group_id, embedding::halfvec(512) <=> $1::halfvec(512) AS distance FROM sightings
WHERE state = 'grouped' AND model = $2
ORDER BY distance
LIMIT $3"""
ALONE_SHORTLIST = """
SELECT id, group_id, embedding::halfvec(512) <=> $1::halfvec(512) AS distance FROM sightings
WHERE group_id IS NULL AND model = $2
ORDER BY distance
LIMIT $3"""
GROUPS_SHORTLIST = """
SELECT id, embedding::halfvec(512) <=> $1::halfvec(512) AS distance FROM unknown_persons
WHERE state = 'open' AND model = $2
ORDER BY distance
LIMIT $3"""
# every sighting of the named groups, and the named sightings in no group
SIGHTINGS_OF = f"""
SELECT {_SIGHTING_VECTOR} FROM sightings
WHERE (group_id = ANY($1::bigint[]) AND state = 'grouped')
   OR (id = ANY($2::bigint[]) AND group_id IS NULL)
ORDER BY id"""
GROUP_TEMPLATE = "SELECT embedding FROM unknown_persons WHERE id = $1 AND state = 'open'"

# --- what is kept -----------------------------------------------------------------------------
KEPT_GROUPS = """
SELECT sighting_count AS n, count(*) AS groups FROM unknown_persons
WHERE model = $1 AND state = 'open' GROUP BY sighting_count"""
KEPT_UNGROUPED = "SELECT count(*) FROM sightings WHERE model = $1 AND group_id IS NULL"
UNGROUPED = f"""
SELECT {_SIGHTING_VECTOR}, state FROM sightings
WHERE model = $1 AND group_id IS NULL AND ($2::boolean OR state = 'deferred') AND id > $3
ORDER BY id
LIMIT $4"""
OPEN_GROUPS = """
SELECT id FROM unknown_persons WHERE model = $1 AND state = 'open' AND sighting_count >= $2
ORDER BY id"""

# --- groups -----------------------------------------------------------------------------------
# The template: the normalised mean of the group's sightings, of the good ones when it has any
# (the rule of identity_templates).
GROUP_CREATE = """
INSERT INTO unknown_persons (model, embedding, sighting_count)
SELECT $1, coalesce(l2_normalize(avg(embedding) FILTER (WHERE NOT low_quality)),
                    l2_normalize(avg(embedding))), count(*)
FROM sightings WHERE id = ANY($2::bigint[])
RETURNING id"""
GROUP_REFRESH = """
UPDATE unknown_persons u SET embedding = t.embedding, sighting_count = t.n, updated_at = now()
FROM (SELECT coalesce(l2_normalize(avg(embedding) FILTER (WHERE NOT low_quality)),
                      l2_normalize(avg(embedding))) AS embedding,
             count(*) AS n
      FROM sightings WHERE group_id = $1) t
WHERE u.id = $1 AND u.state = 'open'"""
GROUP_LEFT = "SELECT count(*) FROM sightings WHERE group_id = $1"
GROUP_COUNT_REFRESH = """
UPDATE unknown_persons SET sighting_count = (SELECT count(*) FROM sightings WHERE group_id = $1),
                           updated_at = now()
WHERE id = $1"""
SIGHTINGS_INTO_GROUP = """
UPDATE sightings SET group_id = $2, state = 'grouped', reason = NULL
WHERE id = ANY($1::bigint[]) AND group_id IS NULL"""
SIGHTING_PLACE = """
UPDATE sightings SET state = $2, reason = $3
WHERE id = $1 AND group_id IS NULL AND (state, reason) IS DISTINCT FROM ($2::text, $3::text)
RETURNING id"""
GROUP_STATE = "SELECT state, model, sighting_count FROM unknown_persons WHERE id = $1 FOR UPDATE"
GROUP_MOVE = "UPDATE sightings SET group_id = $1 WHERE group_id = $2 AND state = 'grouped'"
GROUP_MERGED = """
UPDATE unknown_persons SET state = 'merged', merged_into = $2, embedding = NULL,
                           sighting_count = 0, decided_by = $3, decided_at = now(),
                           updated_at = now()
WHERE id = $1 AND state = 'open'"""
# a group left with fewer than two sightings is no group: its last one is alone again
GROUP_END = """
UPDATE unknown_persons SET state = $2, embedding = NULL, sighting_count = 0,
                           decided_by = $3, decided_at = now(), updated_at = now()
WHERE id = $1 AND state = 'open'"""
GROUP_RELEASE = """
UPDATE sightings SET group_id = NULL, state = 'alone', reason = $2,
                     apart = CASE WHEN $3::boolean THEN array_append(apart, $1::bigint)
                                  ELSE apart END
WHERE group_id = $1 AND state = 'grouped'"""
SIGHTING_RELEASE = """
UPDATE sightings SET group_id = NULL, state = 'alone', reason = 'released',
                     apart = array_append(apart, $2::bigint)
WHERE id = $1 AND group_id = $2 AND state = 'grouped'"""
GROUP_NAMED = """
UPDATE unknown_persons SET state = 'named', identity_id = $2, embedding = NULL,
                           decided_by = $3, decided_at = now(), updated_at = now()
WHERE id = $1 AND state = 'open'"""
SIGHTINGS_NAMED = "UPDATE sightings SET state = 'named' WHERE group_id = $1 AND state = 'grouped'"
REFERENCE_ROWS = """
SELECT id, embedding, recipe, det_score, quality, low_quality, bbox, crop_jpeg, source_sha256
FROM sightings WHERE group_id = $1 AND state = 'grouped' AND id = ANY($2::bigint[])
ORDER BY id"""

# --- reading for people -----------------------------------------------------------------------
_GROUP_COLUMNS = """u.id, u.model, u.state, u.sighting_count, u.identity_id, u.merged_into,
    u.decided_by, u.decided_at, u.created_at, u.updated_at,
    (SELECT min(s.created_at) FROM sightings s WHERE s.group_id = u.id) AS first_seen,
    (SELECT max(s.created_at) FROM sightings s WHERE s.group_id = u.id) AS last_seen"""
GROUP_GET = f"SELECT {_GROUP_COLUMNS} FROM unknown_persons u WHERE u.id = $1"
GROUPS_LIST = f"""
SELECT {_GROUP_COLUMNS} FROM unknown_persons u
WHERE u.model = $1 AND u.state = $2
ORDER BY last_seen DESC NULLS LAST, u.id DESC
LIMIT $3 OFFSET $4"""
GROUP_SIGHTINGS = f"""
SELECT {_SIGHTING_COLUMNS}, crop_jpeg FROM sightings WHERE group_id = $1
ORDER BY created_at, id"""
SEEN_BEFORE = f"""
SELECT {_SIGHTING_COLUMNS} FROM sightings
WHERE group_id = (SELECT group_id FROM sightings WHERE id = $1) AND id <> $1
  AND created_at <= (SELECT created_at FROM sightings WHERE id = $1)
ORDER BY created_at, id"""
LOOKUP_SIGHTINGS = f"""
SELECT {_SIGHTING_COLUMNS} FROM sightings WHERE lookup_id = $1 ORDER BY photo_index, id"""

# --- retention and forgetting -----------------------------------------------------------------
GROUPS_OF_OLD = """
SELECT DISTINCT group_id FROM sightings WHERE created_at < $1 AND group_id IS NOT NULL"""
PURGE_OLD = "DELETE FROM sightings WHERE created_at < $1"
GROUPS_OF_IDENTITY = "SELECT id FROM unknown_persons WHERE identity_id = $1 ORDER BY id"
# an identity merged into another: the unknown persons named as it are named as the other
GROUPS_FOLLOW_MERGE = """
UPDATE unknown_persons SET identity_id = $2 WHERE identity_id = $1 RETURNING id"""
FORGET_OF_GROUPS = "DELETE FROM sightings WHERE group_id = ANY($1::bigint[])"
