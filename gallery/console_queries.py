"""The admin console's SQL: sign-in links, sessions, and the /lookups pages (named, $n params)."""

# --- who may use the console: re-read on every request ----------------------------------------
_CONSOLE_USER = """u.id AS user_id, u.first_name, u.last_name, u.username, u.language, u.role,
       u.status"""
CONSOLE_USER = f"SELECT {_CONSOLE_USER} FROM users u WHERE u.id = $1"

# --- one-time sign-in links -------------------------------------------------------------------
LOGIN_TOKEN_INSERT = """
INSERT INTO console_login_tokens (token_hash, user_id, issued_by, created_at, expires_at)
VALUES ($1, $2, $3, $4, $5)"""
# Taking the link and checking it is one statement: of two requests with the same link, one
# finds it unused.
LOGIN_TOKEN_USE = """
UPDATE console_login_tokens SET used_at = $2
WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2
RETURNING user_id"""
# why a link was refused: unknown (no row), used, or expired
LOGIN_TOKEN_GET = """
SELECT user_id, used_at, expires_at FROM console_login_tokens WHERE token_hash = $1"""
LOGIN_TOKENS_PURGE = "DELETE FROM console_login_tokens WHERE expires_at < $1"

# --- sessions ---------------------------------------------------------------------------------
SESSION_INSERT = """
INSERT INTO console_sessions (token_hash, user_id, method, created_at, last_seen_at)
VALUES ($1, $2, $3, $4, $4)"""
# the session with its user's role and status as they are now
SESSION_GET = f"""
SELECT s.method, s.created_at, s.last_seen_at, s.ended_at, s.end_reason, {_CONSOLE_USER}
FROM console_sessions s JOIN users u ON u.id = s.user_id
WHERE s.token_hash = $1"""
SESSION_TOUCH = """
UPDATE console_sessions SET last_seen_at = $2
WHERE token_hash = $1 AND ended_at IS NULL AND last_seen_at < $2"""
SESSION_END = """
UPDATE console_sessions SET ended_at = $2, end_reason = $3
WHERE token_hash = $1 AND ended_at IS NULL
RETURNING user_id, method"""
SESSIONS_PURGE = """
DELETE FROM console_sessions
WHERE coalesce(ended_at, last_seen_at) < $1"""

# --- the /lookups pages -----------------------------------------------------------------------
# Newest first by keyset (created_at, id): the cursor is a lookup's id, its place looked up in
# the statement. Each filter is "$n IS NULL OR ...": the pages run with custom plans
# (LOOKUP_PAGE_PLANS), so the planner sees the filter's value and drops the ones not set; an
# identity then drives the query from its candidates, an officer from lookups_user_time_id,
# nothing from lookups_time_id.
# A lookup's band is the best of its candidates' (a lead's band is never above the band of the
# face holding that identity); 'none': no candidate at all. Feedback 'confirmed' / 'rejected':
# some candidate has that verdict from someone; 'none': no verdict on any candidate.
_CANDIDATES_OF = """SELECT 1 FROM lookup_faces bf
              JOIN lookup_candidates bc ON bc.lookup_face_id = bf.id
              WHERE bf.lookup_id = l.id"""
_VERDICTS_OF = """SELECT 1 FROM lookup_faces ff
              JOIN lookup_candidates fc ON fc.lookup_face_id = ff.id
              JOIN feedback fb ON fb.candidate_id = fc.id
              WHERE ff.lookup_id = l.id"""
_PAGE_FILTERS = f"""
  ($1::bigint IS NULL OR l.user_id = $1)
  AND ($2::timestamptz IS NULL OR l.created_at >= $2)
  AND ($3::timestamptz IS NULL OR l.created_at < $3)
  AND ($4::text IS NULL OR l.status = $4)
  AND ($5::bigint IS NULL OR l.id IN (
        SELECT il.lookup_id FROM lookup_candidates ic
        JOIN lookup_faces il ON il.id = ic.lookup_face_id
        WHERE ic.identity_id = $5))
  AND ($6::text IS NULL OR $6 <> 'strong'
       OR EXISTS ({_CANDIDATES_OF} AND bc.band = 'strong'))
  AND ($6::text IS NULL OR $6 <> 'possible'
       OR (EXISTS ({_CANDIDATES_OF} AND bc.band = 'possible')
           AND NOT EXISTS ({_CANDIDATES_OF} AND bc.band = 'strong')))
  AND ($6::text IS NULL OR $6 <> 'none' OR NOT EXISTS ({_CANDIDATES_OF}))
  AND ($7::text IS NULL OR $7 = 'none' OR EXISTS ({_VERDICTS_OF} AND fb.verdict = $7))
  AND ($7::text IS NULL OR $7 <> 'none' OR NOT EXISTS ({_VERDICTS_OF}))"""
_PAGE_COLUMNS = """l.id, l.created_at, l.user_id, l.actor, l.source, l.status, l.face_count,
       u.first_name, u.last_name, u.username"""
# $8: the cursor (a lookup id; NULL: the newest), $9: rows to return
LOOKUP_PAGE_OLDER = f"""
SELECT {_PAGE_COLUMNS}
FROM lookups l LEFT JOIN users u ON u.id = l.user_id
WHERE {_PAGE_FILTERS}
  AND ($8::bigint IS NULL
       OR (l.created_at, l.id) < (SELECT k.created_at, k.id FROM lookups k WHERE k.id = $8))
ORDER BY l.created_at DESC, l.id DESC
LIMIT $9"""
LOOKUP_PAGE_NEWER = f"""
SELECT {_PAGE_COLUMNS}
FROM lookups l LEFT JOIN users u ON u.id = l.user_id
WHERE {_PAGE_FILTERS}
  AND (l.created_at, l.id) > (SELECT k.created_at, k.id FROM lookups k WHERE k.id = $8)
ORDER BY l.created_at, l.id
LIMIT $9"""
# A generic plan cannot drop the filters that are not set, and walks the whole table: each
# page is planned for its own values (a millisecond).
LOOKUP_PAGE_PLANS = "SET LOCAL plan_cache_mode = force_custom_plan"
# the query faces of a page's lookups (thumbnails), and their own first candidates
LOOKUP_PAGE_FACES = """
SELECT lf.lookup_id, lf.id, lf.face_index, lf.crop_jpeg IS NULL AS purged
FROM lookup_faces lf
WHERE lf.lookup_id = ANY($1::bigint[])
ORDER BY lf.lookup_id, lf.face_index"""
LOOKUP_PAGE_CANDIDATES = """
SELECT lf.lookup_id, lf.face_index, c.identity_id, i.display_name, c.similarity, c.band,
       i.deleted_at IS NOT NULL AS identity_deleted,
       (SELECT fb.verdict FROM feedback fb WHERE fb.candidate_id = c.id
        ORDER BY fb.created_at DESC, fb.id DESC LIMIT 1) AS verdict
FROM lookup_faces lf
JOIN lookup_candidates c
  ON c.lookup_face_id = lf.id AND c.rank = 1 AND c.held_by_face IS NULL
JOIN identities i ON i.id = c.identity_id
WHERE lf.lookup_id = ANY($1::bigint[])
ORDER BY lf.lookup_id, lf.face_index"""
# a query face's aligned crop: no row (unknown), NULL (purged by retention) or the JPEG
LOOKUP_FACE_CROP = "SELECT crop_jpeg FROM lookup_faces WHERE id = $1"
