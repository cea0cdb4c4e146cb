"""Every SQL statement facefind runs, as named constants with $n parameters."""

# --- migrations -------------------------------------------------------------------------------
MIGRATION_LOCK_ID = 7408331020244
MIGRATION_LOCK = "SELECT pg_advisory_lock($1)"
MIGRATION_UNLOCK = "SELECT pg_advisory_unlock($1)"
MIGRATIONS_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version     integer PRIMARY KEY,
    name        text NOT NULL,
    checksum    text NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now()
)"""
MIGRATIONS_APPLIED = "SELECT version, name, checksum FROM schema_migrations ORDER BY version"
MIGRATION_RECORD = "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)"
MIGRATIONS_TABLE_EXISTS = "SELECT to_regclass('schema_migrations') IS NOT NULL"

# --- start-up checks --------------------------------------------------------------------------
VECTOR_VERSIONS = """
SELECT default_version, installed_version FROM pg_available_extensions WHERE name = 'vector'"""
SERVER_VERSION = "SELECT current_setting('server_version')"

# --- roles ------------------------------------------------------------------------------------
# Role names and passwords cannot be parameters of DDL: the server quotes them with format()
# (%I: identifier, %L: literal) and the result is executed as it stands.
ROLE_EXISTS = "SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)"
ROLE_CREATE = "SELECT format('CREATE ROLE %I LOGIN', $1::text)"
ROLE_CREATE_WITH_PASSWORD = "SELECT format('CREATE ROLE %I LOGIN PASSWORD %L', $1::text, $2::text)"
ROLE_SET_PASSWORD = "SELECT format('ALTER ROLE %I PASSWORD %L', $1::text, $2::text)"
# What the application's runtime role may do, applied by the owner after every migration run in
# one transaction: everything it held on tables is revoked, then each table gets what
# RUNTIME_TABLE_PRIVILEGES names for it. Tables the owner creates outside the runner can only be
# read until a migration run grants them.
RUNTIME_GRANTS = tuple(
    f"SELECT format('{statement}', $1::text)"
    for statement in (
        "GRANT USAGE ON SCHEMA public TO %I",
        "REVOKE ALL ON ALL TABLES IN SCHEMA public FROM %I",
        "GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO %I",
        "ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON TABLES FROM %I",
        "ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO %I",
        "ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO %I",
    )
)
# Per table, what the application's statements need and nothing more. Whatever the owner reads
# back from a table this role can write is data only: the owner never executes it.
RUNTIME_TABLE_PRIVILEGES: dict[str, str] = {
    "audit_log": "SELECT, INSERT",  # read and append; sealed rows are never changed
    # the console's sign-in links and sessions: used, ended, deleted by housekeeping
    "console_login_tokens": "SELECT, INSERT, UPDATE, DELETE",
    "console_sessions": "SELECT, INSERT, UPDATE, DELETE",
    "deferred_indexes": "SELECT",  # which indexes a load left out: the owner's to write
    "faces": "SELECT, INSERT, UPDATE",  # forget, restore, erase, re-embed: never deleted
    "feedback": "SELECT, INSERT, UPDATE",  # a verdict can be changed
    "identities": "SELECT, INSERT, UPDATE",
    "identity_templates": "SELECT, INSERT, DELETE",  # rebuilt, never updated in place
    "inbox": "SELECT, INSERT, UPDATE, DELETE",  # handled rows are deleted a day later
    "lookup_candidates": "SELECT, INSERT",
    "lookup_faces": "SELECT, INSERT, UPDATE",  # retention clears the crops
    "lookups": "SELECT, INSERT, UPDATE",
    "models": "SELECT, INSERT",  # a new model pack registers itself at start
    "queue_schema": "SELECT",  # the owner's record of the queue's schema
    "queue_workers": "SELECT, INSERT, UPDATE, DELETE",  # where each lookup worker runs
    "schema_migrations": "SELECT",  # a runtime role alone checks the schema is up to date
    "users": "SELECT, INSERT, UPDATE",
}
# the task queue's tables (procrastinate's functions run as the caller): its state, no DDL
RUNTIME_QUEUE_TABLES = ("procrastinate_", "SELECT, INSERT, UPDATE, DELETE")
SCHEMA_TABLES = """
SELECT c.relname FROM pg_class c
WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p')
ORDER BY c.relname"""
# the privileges come from RUNTIME_TABLE_PRIVILEGES, the table from the catalog
TABLE_GRANT = "SELECT format('GRANT %s ON TABLE %I TO %I', $1::text, $2::text, $3::text)"
# Whether the connected role could rewrite the audit log unseen by the database's own guards.
AUDIT_RIGHTS = """
SELECT current_user AS role, r.rolsuper AS superuser,
       pg_has_role(current_user, c.relowner, 'USAGE') AS owner,
       has_table_privilege('audit_log', 'UPDATE') OR has_table_privilege('audit_log', 'DELETE')
           OR has_table_privilege('audit_log', 'TRUNCATE') AS can_change
FROM pg_roles r, pg_class c
WHERE r.rolname = current_user AND c.oid = 'audit_log'::regclass"""
TABLE_EXISTS = "SELECT to_regclass($1)"
QUEUE_SCHEMA_VERSION = "SELECT version FROM queue_schema WHERE component = $1"
QUEUE_SCHEMA_RECORD = """
INSERT INTO queue_schema (component, version) VALUES ($1, $2)
ON CONFLICT (component) DO UPDATE SET version = EXCLUDED.version, applied_at = now()"""


# DDL takes no parameters; callers pass names checked against [a-z0-9_] (gallery.db).
def create_database(name: str) -> str:
    return f'CREATE DATABASE "{name}"'


def drop_database(name: str) -> str:
    return f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'


# --- models -----------------------------------------------------------------------------------
MODEL_GET = "SELECT name, detector_sha256, recognizer_sha256, dim FROM models WHERE name = $1"
MODEL_INSERT = """
INSERT INTO models (name, detector_sha256, recognizer_sha256, dim) VALUES ($1, $2, $3, $4)
ON CONFLICT (name) DO NOTHING"""

# --- users ------------------------------------------------------------------------------------
_USER_COLUMNS = """id, first_name, last_name, username, language, role, status, decided_by,
    decided_at, created_at"""
USER_SEEN = f"""
INSERT INTO users (id, first_name, last_name, username, language) VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (id) DO UPDATE SET
    first_name = EXCLUDED.first_name, last_name = EXCLUDED.last_name,
    username = EXCLUDED.username, language = EXCLUDED.language, updated_at = now()
RETURNING {_USER_COLUMNS}, (xmax = 0) AS inserted"""
USER_ENSURE = """
INSERT INTO users (id) VALUES ($1) ON CONFLICT (id) DO NOTHING"""
USER_GET = f"SELECT {_USER_COLUMNS} FROM users WHERE id = $1"
USER_LIST = f"""
SELECT {_USER_COLUMNS} FROM users
WHERE ($1::text IS NULL OR status = $1)
ORDER BY status, created_at"""
USER_SET_STATUS = f"""
UPDATE users SET status = $2, decided_by = $3, decided_at = now(), updated_at = now()
WHERE id = $1
RETURNING {_USER_COLUMNS}"""
USER_SET_ROLE = f"""
UPDATE users SET role = $2, decided_by = $3, decided_at = now(), updated_at = now()
WHERE id = $1
RETURNING {_USER_COLUMNS}"""
# a decision applies only if the user is still as the deciding admin saw them: compare-and-set,
# so of two admins deciding at once the second finds nothing to update
USER_CHANGE = f"""
UPDATE users SET status = $2, role = $3, decided_by = $4, decided_at = now(), updated_at = now()
WHERE id = $1 AND status = $5 AND role = $6
RETURNING {_USER_COLUMNS}"""
USER_ADMINS = f"""
SELECT {_USER_COLUMNS} FROM users WHERE role = 'admin' AND status = 'approved' ORDER BY id"""

# --- identities -------------------------------------------------------------------------------
_IDENTITY_COLUMNS = """i.id, i.display_name, i.external_ref, i.notes, i.created_by, i.created_at,
    i.deleted_at, i.erased_at,
    (SELECT count(*) FROM faces f WHERE f.identity_id = i.id AND f.active) AS face_count"""
IDENTITY_INSERT = """
INSERT INTO identities (display_name, external_ref, notes, created_by) VALUES ($1, $2, $3, $4)
RETURNING id"""
IDENTITY_GET = f"SELECT {_IDENTITY_COLUMNS} FROM identities i WHERE i.id = $1"
IDENTITY_BY_NAME = f"""
SELECT {_IDENTITY_COLUMNS} FROM identities i
WHERE i.deleted_at IS NULL AND lower(i.display_name) = lower($1)
ORDER BY i.id"""
IDENTITY_NAME_LIKE = f"""
SELECT {_IDENTITY_COLUMNS} FROM identities i
WHERE i.deleted_at IS NULL AND i.display_name ILIKE '%' || $1 || '%' ESCAPE '!'
ORDER BY i.display_name, i.id
LIMIT $2"""
IDENTITY_LIST = f"""
SELECT {_IDENTITY_COLUMNS} FROM identities i
WHERE ($1 OR i.deleted_at IS NULL)
ORDER BY i.display_name, i.id"""
IDENTITY_SOFT_DELETE = """
UPDATE identities SET deleted_at = now(), deleted_by = $2
WHERE id = $1 AND deleted_at IS NULL
RETURNING id"""
FACES_DEACTIVATE = "UPDATE faces SET active = false WHERE identity_id = $1 AND active"
IDENTITY_RESTORE = """
UPDATE identities SET deleted_at = NULL, deleted_by = NULL
WHERE id = $1 AND deleted_at IS NOT NULL AND erased_at IS NULL
RETURNING id"""
FACES_REACTIVATE = """
UPDATE faces SET active = true WHERE identity_id = $1 AND NOT active AND embedding IS NOT NULL"""
# Erasure keeps the rows (past lookups point at them: who, when, which identity) and drops
# what identifies the person: embeddings, pictures, photo hashes, name, reference and notes.
IDENTITY_ERASE = """
UPDATE identities SET erased_at = now(), display_name = '(erased #' || id || ')',
                      external_ref = NULL, notes = NULL
WHERE id = $1 AND deleted_at IS NOT NULL AND erased_at IS NULL
RETURNING id"""
FACES_ERASE = """
UPDATE faces SET embedding = NULL, crop_jpeg = NULL, source_sha256 = NULL, quality = '{}',
                 active = false, erased_at = now()
WHERE identity_id = $1 AND erased_at IS NULL"""
IDENTITIES_TO_ERASE = """
SELECT id FROM identities
WHERE deleted_at IS NOT NULL AND erased_at IS NULL AND deleted_at <= $1
ORDER BY id"""

# --- faces ------------------------------------------------------------------------------------
FACE_INSERT = """
INSERT INTO faces (identity_id, model, embedding, det_score, quality, bbox, crop_jpeg,
                   source_sha256, added_by, recipe, low_quality)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
ON CONFLICT (identity_id, model, source_sha256) DO NOTHING
RETURNING id"""


# An identity's templates, one per model: the normalised mean of its active references, of the
# good ones when it has any (a flagged reference is there only for want of a better one).
def _templates_build(where: str) -> str:
    return f"""
INSERT INTO identity_templates (identity_id, model, embedding, ref_count)
SELECT f.identity_id, f.model,
       coalesce(l2_normalize(avg(f.embedding) FILTER (WHERE NOT f.low_quality)),
                l2_normalize(avg(f.embedding))),
       count(*)
FROM faces f
WHERE {where} AND f.active
GROUP BY f.identity_id, f.model"""


TEMPLATES_DELETE = "DELETE FROM identity_templates WHERE identity_id = ANY($1::bigint[])"
TEMPLATES_BUILD = _templates_build("f.identity_id = ANY($1::bigint[])")
# every template of a model in one statement, after a bulk load (not identity by identity)
TEMPLATES_DELETE_MODEL = "DELETE FROM identity_templates WHERE model = $1"
TEMPLATES_BUILD_MODEL = _templates_build("f.model = $1")
TEMPLATE_GET = """
SELECT embedding, ref_count FROM identity_templates WHERE identity_id = $1 AND model = $2"""
GALLERY_SIZE = """
SELECT least(ref_count, 3) AS refs, count(*) AS identities FROM identity_templates
WHERE model = $1 GROUP BY 1"""
FACES_OF_OTHER_RECIPES = """
SELECT recipe, count(*) AS faces FROM faces
WHERE model = $1 AND active AND recipe <> $2 GROUP BY recipe ORDER BY recipe"""
FACES_OF_OTHER_MODELS = """
SELECT model, count(*) AS faces FROM faces WHERE active AND model <> $1 GROUP BY model"""
# re-embedding walks the faces by id, so an interrupted run resumes where it stopped
FACES_TO_REEMBED = """
SELECT id, identity_id, crop_jpeg FROM faces
WHERE model = $1 AND active AND recipe <> $2 AND id > $3
ORDER BY id LIMIT $4"""
FACES_TO_REEMBED_COUNT = """
SELECT count(*) FROM faces WHERE model = $1 AND active AND recipe <> $2"""
FACE_SET_EMBEDDING = "UPDATE faces SET embedding = $2, recipe = $3 WHERE id = $1"

FACE_BY_SOURCE = """
SELECT f.id, f.identity_id, i.display_name FROM faces f JOIN identities i ON i.id = f.identity_id
WHERE f.source_sha256 = $1 AND f.model = $2 AND f.active
ORDER BY f.id"""
_FACE_COLUMNS = """id, identity_id, model, det_score, quality, bbox, crop_jpeg, source_sha256,
    added_by, created_at, active, recipe, low_quality"""
FACE_GET = f"SELECT {_FACE_COLUMNS} FROM faces WHERE id = $1"
FACES_OF_IDENTITY = f"""
SELECT {_FACE_COLUMNS} FROM faces WHERE identity_id = $1 AND active ORDER BY id"""
# another model pack's faces not yet embedded with this one (facefind reembed --from-model)
FACES_OF_MODEL_TO_COPY = f"""
SELECT {_FACE_COLUMNS} FROM faces f
WHERE f.model = $1 AND f.active AND f.id > $3
  AND NOT EXISTS (SELECT 1 FROM faces g WHERE g.identity_id = f.identity_id AND g.model = $2
                  AND g.source_sha256 = f.source_sha256)
ORDER BY f.id LIMIT $4"""


IDENTITIES_BY_IDS = f"""
SELECT {_IDENTITY_COLUMNS} FROM identities i WHERE i.id = ANY($1::bigint[])"""

# --- bulk loading ---------------------------------------------------------------------------
SOURCE_HASHES = "SELECT DISTINCT source_sha256 FROM faces WHERE model = $1 AND active"
IDENTITY_IDS_RESERVE = "SELECT nextval('identities_id_seq') FROM generate_series(1, $1)"
IDENTITIES_INSERT_MANY = """
INSERT INTO identities (id, display_name, external_ref, notes, created_by, uid)
SELECT i, n, r, x, c, coalesce(u, gen_random_uuid())
FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::uuid[])
     AS t(i, n, r, x, c, u)"""
# --- export / import between deployments ---
IDENTITIES_BY_UID = """
SELECT id, uid, deleted_at FROM identities WHERE uid = ANY($1::uuid[])"""
EXPORT_IDENTITIES = """
SELECT i.uid, i.display_name, i.external_ref, i.notes, i.created_by, i.created_at
FROM identities i
WHERE i.deleted_at IS NULL
  AND EXISTS (SELECT 1 FROM faces f WHERE f.identity_id = i.id AND f.model = $1 AND f.active)
ORDER BY i.id"""
_EXPORT_FACES_FROM = """
FROM faces f JOIN identities i ON i.id = f.identity_id
WHERE f.model = $1 AND f.active AND i.deleted_at IS NULL
ORDER BY f.id"""
EXPORT_FACES_META = (
    """SELECT i.uid, f.det_score, f.quality, f.bbox, f.source_sha256, f.added_by, f.created_at,
       f.recipe, f.low_quality, coalesce(octet_length(f.crop_jpeg), 0) AS crop_bytes"""
    + _EXPORT_FACES_FROM
)
EXPORT_FACES_EMBEDDINGS = "SELECT f.embedding" + _EXPORT_FACES_FROM
EXPORT_FACES_CROPS = "SELECT f.crop_jpeg" + _EXPORT_FACES_FROM
EXPORT_TEMPLATES = """
SELECT i.uid, t.embedding, t.ref_count FROM identity_templates t
JOIN identities i ON i.id = t.identity_id
WHERE t.model = $1 AND i.deleted_at IS NULL
ORDER BY i.id"""
# faces arrive by COPY into a staging table, then move with the same conflict rule as one face
FACES_STAGING = """
CREATE TEMP TABLE faces_staging (
    ord bigint, identity_id bigint, model text, embedding vector(512), det_score real,
    quality jsonb, bbox real[], crop_jpeg bytea, source_sha256 text, added_by text,
    recipe text, low_quality boolean
) ON COMMIT DROP"""
FACES_STAGING_COLUMNS = (
    "ord", "identity_id", "model", "embedding", "det_score", "quality", "bbox", "crop_jpeg",
    "source_sha256", "added_by", "recipe", "low_quality",
)  # fmt: skip
FACES_FROM_STAGING = """
INSERT INTO faces (identity_id, model, embedding, det_score, quality, bbox, crop_jpeg,
                   source_sha256, added_by, recipe, low_quality)
SELECT identity_id, model, embedding, det_score, quality, bbox, crop_jpeg, source_sha256,
       added_by, recipe, low_quality
FROM faces_staging ORDER BY ord
ON CONFLICT (identity_id, model, source_sha256) DO NOTHING
RETURNING id, identity_id, source_sha256"""
FACES_COUNT = "SELECT count(*) FROM faces WHERE model = $1 AND active"
# the HNSW indexes searches walk, with their sizes
VECTOR_INDEXES = """
SELECT i.indexname, i.indexdef, pg_relation_size(format('%I', i.indexname)::regclass) AS bytes
FROM pg_indexes i
WHERE i.schemaname = current_schema() AND i.tablename IN ('faces', 'identity_templates')
  AND i.indexdef ILIKE '%USING hnsw%'
ORDER BY i.indexname"""
# The HNSW indexes a large load may drop, and how the owner builds them again: from here, by
# name, never from text a table holds (text the runtime role could write would be SQL run as
# the owner). As migration 0010 defines them; a migration that changes one changes it here.
VECTOR_INDEX_DEFINITIONS: dict[str, str] = {
    "faces_embedding_hnsw": """
CREATE INDEX IF NOT EXISTS faces_embedding_hnsw ON faces
    USING hnsw ((embedding::halfvec(512)) halfvec_cosine_ops)
    WITH (m = 16, ef_construction = 128)
    WHERE active""",
    "identity_templates_hnsw": """
CREATE INDEX IF NOT EXISTS identity_templates_hnsw ON identity_templates
    USING hnsw ((embedding::halfvec(512)) halfvec_cosine_ops)
    WITH (m = 32, ef_construction = 128)""",
}
DEFERRED_INDEX_ADD = """
INSERT INTO deferred_indexes (name, dropped_by) VALUES ($1, $2)
ON CONFLICT (name) DO NOTHING"""
DEFERRED_INDEXES = "SELECT name FROM deferred_indexes ORDER BY name"
DEFERRED_INDEX_DONE = "DELETE FROM deferred_indexes WHERE name = $1"


def drop_index(name: str) -> str:
    # DDL takes no parameters; the name comes from pg_indexes, quoted as an identifier
    return 'DROP INDEX IF EXISTS "' + name.replace('"', '""') + '"'


# --- lookups ----------------------------------------------------------------------------------
LOOKUP_CREATE = """
INSERT INTO lookups (user_id, actor, source, chat_id, message_id, file_id, update_id, language)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
ON CONFLICT (chat_id, message_id) DO NOTHING
RETURNING id"""
LOOKUP_BY_MESSAGE = "SELECT id, status FROM lookups WHERE chat_id = $1 AND message_id = $2"
LOOKUP_FINISH = """
UPDATE lookups SET photo_sha256 = $2, model = $3, status = $4, error = $5, face_count = $6,
                   timings = $7, bands = $8, outcome = $9, overview_jpeg = $10,
                   finished_at = now()
WHERE id = $1"""
LOOKUP_FACE_INSERT = """
INSERT INTO lookup_faces (lookup_id, face_index, bbox, det_score, quality, crop_jpeg)
VALUES ($1, $2, $3, $4, $5, $6)
RETURNING id"""
LOOKUP_CANDIDATE_INSERT = """
INSERT INTO lookup_candidates (lookup_face_id, rank, identity_id, face_id, similarity, band,
                               false_candidate_rate, low_quality_ref, held_by_face)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
RETURNING id"""
LOOKUP_GET = """
SELECT l.id, l.user_id, l.actor, l.source, l.chat_id, l.message_id, l.file_id, l.photo_sha256,
       l.model, l.status, l.error, l.face_count, l.timings, l.created_at, l.finished_at, l.bands,
       l.outcome, l.language, l.reply_sent, l.delivered_at, l.handled_by, l.crashes
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
SELECT id, face_index, bbox, det_score, quality, crop_jpeg FROM lookup_faces
WHERE lookup_id = $1 ORDER BY face_index"""
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
UPDATE lookup_faces lf SET crop_jpeg = NULL
FROM lookups l
WHERE l.id = lf.lookup_id AND lf.crop_jpeg IS NOT NULL AND l.created_at < $1"""
RETENTION_PURGE_OVERVIEWS = """
UPDATE lookups SET overview_jpeg = NULL WHERE overview_jpeg IS NOT NULL AND created_at < $1"""
# a lookup still waiting for its photo keeps the file id it will download it with
RETENTION_PURGE_FILE_IDS = """
UPDATE lookups SET file_id = NULL
WHERE file_id IS NOT NULL AND created_at < $1 AND status <> 'pending'"""

# --- inbox ------------------------------------------------------------------------------------
INBOX_STORE = """
INSERT INTO inbox (bot_id, update_id, payload)
SELECT $1, * FROM unnest($2::bigint[], $3::text[])
ON CONFLICT (bot_id, update_id) DO NOTHING"""
# An update is handled by the process holding its lease: one that is not leased, whose lease ran
# out (its process died or hangs), or that the claimer holds already (met a database outage).
_INBOX_CLAIMABLE = """handled_at IS NULL
      AND (claimed_until IS NULL OR claimed_until < now() OR claimed_by = $3)"""
INBOX_CLAIM_OF = f"""
UPDATE inbox SET claimed_by = $3, claimed_until = now() + make_interval(secs => $4)
WHERE bot_id = $1 AND update_id = ANY($2::bigint[])
  AND {_INBOX_CLAIMABLE}
RETURNING update_id"""
# rows another process is claiming are skipped, not waited for
INBOX_CLAIM = f"""
WITH free AS (
    SELECT bot_id, update_id FROM inbox
    WHERE bot_id = $1 AND NOT (update_id = ANY($2::bigint[]))
      AND {_INBOX_CLAIMABLE}
    ORDER BY update_id LIMIT $5
    FOR UPDATE SKIP LOCKED)
UPDATE inbox i SET claimed_by = $3, claimed_until = now() + make_interval(secs => $4)
FROM free WHERE i.bot_id = free.bot_id AND i.update_id = free.update_id
RETURNING i.update_id, i.payload"""
INBOX_RENEW = """
UPDATE inbox SET claimed_until = now() + make_interval(secs => $4)
WHERE bot_id = $1 AND update_id = ANY($2::bigint[]) AND claimed_by = $3 AND handled_at IS NULL"""
# at the start of the one process running the bot: no other one will finish what it claimed
INBOX_RELEASE = """
UPDATE inbox SET claimed_by = NULL, claimed_until = NULL
WHERE bot_id = $1 AND handled_at IS NULL AND claimed_by IS NOT NULL"""
INBOX_HANDLED = """
UPDATE inbox SET handled_at = now(), claimed_until = NULL
WHERE bot_id = $1 AND update_id = $2 AND handled_at IS NULL"""
INBOX_COUNT_UNHANDLED = "SELECT count(*) FROM inbox WHERE handled_at IS NULL"
INBOX_PURGE_HANDLED = "DELETE FROM inbox WHERE handled_at < $1"

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

# --- audit ------------------------------------------------------------------------------------
# Before migration 0004 a trigger hashed rows itself; the migration runner still needs this
# insert for the migrations that come before 0004 in a new database.
AUDIT_INSERT_LEGACY = """
INSERT INTO audit_log (actor, action, target, details) VALUES ($1, $2, $3, $4::jsonb)"""
AUDIT_SEALED_SCHEME = """
SELECT EXISTS (SELECT 1 FROM pg_attribute
               WHERE attrelid = to_regclass('audit_log') AND attname = 'key_id'
                 AND NOT attisdropped)"""
# the lock the audit trigger takes too: one writer at a time, held to commit
AUDIT_LOCK_ID = 7408331020245
AUDIT_LOCK = "SELECT pg_advisory_xact_lock($1)"
# the head to continue, the row's time, and the details as the database will render them
AUDIT_NEXT = """
SELECT clock_timestamp() AS now, $1::jsonb::text AS details_text,
       (SELECT id FROM audit_log ORDER BY id DESC LIMIT 1) AS last_id,
       (SELECT hash FROM audit_log ORDER BY id DESC LIMIT 1) AS last_hash"""
AUDIT_APPEND = """
INSERT INTO audit_log (id, at, actor, action, target, details, prev_hash, hash, scheme, key_id)
VALUES ($1, $2, $3, $4, $5, $6::text::jsonb, $7, $8, 'hmac-sha256', $9)"""
_AUDIT_CHECKED = """id, at, actor, action, target, details::text AS details_text, prev_hash, hash,
       scheme, key_id"""
AUDIT_CHAIN_AFTER = f"""
SELECT {_AUDIT_CHECKED} FROM audit_log WHERE id > $1 ORDER BY id"""
AUDIT_FIRST = "SELECT id, hash FROM audit_log ORDER BY id LIMIT 1"
AUDIT_LAST = "SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1"
AUDIT_LAST_ID = "SELECT max(id) FROM audit_log"
AUDIT_COUNT = "SELECT count(*) FROM audit_log"
AUDIT_COUNT_UPTO = "SELECT count(*) FROM audit_log WHERE id <= $1"
AUDIT_ROW = f"SELECT {_AUDIT_CHECKED} FROM audit_log WHERE id = $1"
AUDIT_LAST_KEY_ID = """
SELECT key_id FROM audit_log WHERE scheme = 'hmac-sha256' ORDER BY id DESC LIMIT 1"""
AUDIT_LAST_OF_ACTION = "SELECT max(at) FROM audit_log WHERE action = $1"
AUDIT_RECENT = """
SELECT id, at, actor, action, target, details FROM audit_log ORDER BY id DESC LIMIT $1"""
