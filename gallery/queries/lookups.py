"""The SQL of lookups, their faces and candidates, the outbox's progress, feedback and retention."""

# --- lookups ----------------------------------------------------------------------------------
LOOKUP_CREATE = """
INSERT INTO lookups (user_id, actor, source, chat_id, message_id, file_id, update_id, language,
                     media)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
ON CONFLICT (chat_id, message_id) DO NOTHING
RETURNING id"""
LOOKUP_BY_MESSAGE = "SELECT id, status FROM lookups WHERE chat_id = $1 AND message_id = $2"
LOOKUP_FINISH = """
UPDATE lookups SET photo_sha256 = $2, model = $3, status = $4, error = $5, face_count = $6,
                   timings = $7, bands = $8, outcome = $9, overview_jpeg = $10,
                   faces_left_out = $11, finished_at = now()
WHERE id = $1"""
LOOKUP_FACE_INSERT = """
INSERT INTO lookup_faces (lookup_id, face_index, bbox, det_score, quality, crop_jpeg,
                          photo_index, seen_in, frame_jpeg, time_s)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
RETURNING id"""
# the sightings kept for the lookup's people, linked to their stored faces
LOOKUP_SIGHTINGS_LINK = """
UPDATE sightings s SET lookup_face_id = lf.id
FROM lookup_faces lf
WHERE s.lookup_id = $1 AND lf.lookup_id = $1 AND lf.face_index = s.face_index
  AND s.lookup_face_id IS NULL"""
LOOKUP_CANDIDATE_INSERT = """
INSERT INTO lookup_candidates (lookup_face_id, rank, identity_id, face_id, similarity, band,
                               false_candidate_rate, low_quality_ref, held_by_face)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
RETURNING id"""
LOOKUP_GET = """
SELECT l.id, l.user_id, l.actor, l.source, l.chat_id, l.message_id, l.file_id, l.photo_sha256,
       l.model, l.status, l.error, l.face_count, l.timings, l.created_at, l.finished_at, l.bands,
       l.outcome, l.language, l.reply_sent, l.delivered_at, l.handled_by, l.crashes, l.media,
       l.faces_left_out
FROM lookups l WHERE l.id = $1"""
LOOKUP_HANDLED_BY = "UPDATE lookups SET handled_by = $2 WHERE id = $1"
LOOKUP_OVERVIEW = "SELECT overview_jpeg FROM lookups WHERE id = $1"
# the outbox: delivery progress of a lookup's reply (message k of n), then its end
LOOKUP_REPLY_PROGRESS = "UPDATE lookups SET reply_sent = $2 WHERE id = $1 AND reply_sent < $2"
LOOKUP_REPLY_DELIVERED = """
UPDATE lookups SET status = outcome, delivered_at = now()
WHERE id = $1 AND status = 'replying'
RETURNING status"""
LOOKUP_REPLY_UNDELIVERED = """
UPDATE lookups SET status = 'undelivered', error = coalesce(error, $2)
WHERE id = $1 AND status IN ('pending', 'replying')
RETURNING id"""
# Before each message of a reply: is the requester still approved, and which identities among
# the lookup's candidates were forgotten (or erased) since the analysis
LOOKUP_DELIVERY_CHECK = """
SELECT coalesce(u.status = 'approved', false) AS allowed,
       ARRAY(SELECT DISTINCT c.identity_id
             FROM lookup_candidates c
             JOIN lookup_faces lf ON lf.id = c.lookup_face_id
             JOIN identities i ON i.id = c.identity_id
             WHERE lf.lookup_id = l.id AND i.deleted_at IS NOT NULL) AS withheld
FROM lookups l
LEFT JOIN users u ON u.id = l.user_id
WHERE l.id = $1"""
# the requester may no longer be answered: closed without its reply; `outcome` keeps what the
# analysis concluded
LOOKUP_REPLY_WITHDRAWN = """
UPDATE lookups SET status = 'error', error = $2
WHERE id = $1 AND status = 'replying'
RETURNING reply_sent, outcome"""
LOOKUP_COUNT_UNDELIVERED = "SELECT count(*) FROM lookups WHERE status = 'undelivered'"
LOOKUP_COUNT_OPEN = "SELECT count(*) FROM lookups WHERE status IN ('pending', 'replying')"
# Lookups received or analysed whose reply is owed but that have no queued or running job
# (a crash between recording the lookup and queueing its job): the start-up reconciliation.
LOOKUP_OPEN_WITHOUT_JOB = """
SELECT l.id FROM lookups l
WHERE l.status IN ('pending', 'replying') AND l.source = 'telegram'
  AND NOT EXISTS (
      SELECT 1 FROM procrastinate_jobs j
      WHERE j.task_name = $1 AND j.status IN ('todo', 'doing')
        AND j.args ->> 'lookup_id' = l.id::text)
ORDER BY l.id"""
LOOKUP_FACES = """
SELECT id, face_index, bbox, det_score, quality, crop_jpeg, photo_index, seen_in, time_s,
       frame_jpeg IS NOT NULL AS has_frame
FROM lookup_faces
WHERE lookup_id = $1 ORDER BY face_index"""
LOOKUP_FRAME = "SELECT frame_jpeg FROM lookup_faces WHERE lookup_id = $1 AND face_index = $2"
LOOKUP_CANDIDATES = """
SELECT c.id, c.lookup_face_id, c.rank, c.identity_id, c.face_id, c.similarity, c.band,
       c.false_candidate_rate, c.low_quality_ref, c.held_by_face, i.display_name, i.external_ref,
       i.deleted_at, i.erased_at,
       (SELECT fb.verdict FROM feedback fb WHERE fb.candidate_id = c.id
        ORDER BY fb.created_at DESC, fb.id DESC LIMIT 1) AS verdict
FROM lookup_candidates c
JOIN lookup_faces lf ON lf.id = c.lookup_face_id
JOIN identities i ON i.id = c.identity_id
WHERE lf.lookup_id = $1
ORDER BY lf.face_index, c.rank"""
LOOKUP_LIST = """
SELECT l.id, l.user_id, l.actor, l.source, l.status, l.face_count, l.created_at,
       (SELECT string_agg(top.summary, '; ' ORDER BY top.face_index) FROM (
            SELECT lf.face_index, '#' || lf.face_index || ' ' || i.display_name
                   || ' ' || round((c.similarity * 100)::numeric) || '% ' || c.band
                   || coalesce(' [' || (SELECT fb.verdict FROM feedback fb
                                        WHERE fb.candidate_id = c.id
                                        ORDER BY fb.created_at DESC, fb.id DESC LIMIT 1)
                               || ']', '') AS summary
            FROM lookup_faces lf
            JOIN lookup_candidates c
              ON c.lookup_face_id = lf.id AND c.rank = 1 AND c.held_by_face IS NULL
            JOIN identities i ON i.id = c.identity_id
            WHERE lf.lookup_id = l.id) top) AS top_candidates
FROM lookups l
WHERE ($1::bigint IS NULL OR l.user_id = $1)
  AND ($2::timestamptz IS NULL OR l.created_at >= $2)
  AND ($3::timestamptz IS NULL OR l.created_at < $3)
ORDER BY l.created_at DESC, l.id DESC
LIMIT $4"""
LOOKUP_COUNT_SINCE = """
SELECT count(*) FROM lookups WHERE user_id = $1 AND created_at >= $2"""
LOOKUP_EXPORT = """
SELECT l.id AS lookup_id, l.created_at, l.user_id, l.actor, l.source, l.status, l.face_count,
       l.photo_sha256, l.model, lf.face_index, lf.det_score, c.rank, c.identity_id,
       i.display_name, i.external_ref, c.face_id, c.similarity, c.band, c.held_by_face,
       (SELECT fb.verdict FROM feedback fb WHERE fb.candidate_id = c.id
        ORDER BY fb.created_at DESC, fb.id DESC LIMIT 1) AS verdict
FROM lookups l
LEFT JOIN lookup_faces lf ON lf.lookup_id = l.id
LEFT JOIN lookup_candidates c ON c.lookup_face_id = lf.id
LEFT JOIN identities i ON i.id = c.identity_id
WHERE l.created_at >= $1 AND l.created_at < $2
ORDER BY l.id, lf.face_index, c.rank"""
RETENTION_PURGE_CROPS = """
UPDATE lookup_faces lf SET crop_jpeg = NULL, frame_jpeg = NULL
FROM lookups l
WHERE l.id = lf.lookup_id AND (lf.crop_jpeg IS NOT NULL OR lf.frame_jpeg IS NOT NULL)
  AND l.created_at < $1"""
RETENTION_PURGE_OVERVIEWS = """
UPDATE lookups SET overview_jpeg = NULL WHERE overview_jpeg IS NOT NULL AND created_at < $1"""
# a lookup still waiting for its photo keeps the file id it will download it with
RETENTION_PURGE_FILE_IDS = """
UPDATE lookups SET file_id = NULL
WHERE file_id IS NOT NULL AND created_at < $1 AND status <> 'pending'"""

# --- feedback ---------------------------------------------------------------------------------
CANDIDATE_GET = """
SELECT c.id, c.identity_id, c.band, c.similarity, c.rank, lf.face_index, l.id AS lookup_id,
       l.user_id, i.display_name
FROM lookup_candidates c
JOIN lookup_faces lf ON lf.id = c.lookup_face_id
JOIN lookups l ON l.id = lf.lookup_id
JOIN identities i ON i.id = c.identity_id
WHERE c.id = $1"""
FEEDBACK_UPSERT = """
INSERT INTO feedback (candidate_id, user_id, actor, verdict) VALUES ($1, $2, $3, $4)
ON CONFLICT (candidate_id, actor) DO UPDATE SET verdict = EXCLUDED.verdict, created_at = now()
RETURNING id"""
