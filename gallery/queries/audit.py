"""The SQL of the sealed audit log: appending, reading and checking the chain."""

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

# --- the console's /audit: newest first, filtered, paged by id --------------------------------
# $1 actor, $2 action, $3 target, $4 since, $5 until (NULL: not filtered), $6 the cursor (rows
# older than this id; NULL: the newest), $7 rows. Planned for each call's values
# (AUDIT_PAGE_PLANS), so the filters not set drop out and the index of the one that is set
# (audit_log_actor, audit_log_action, audit_log_target, audit_log_at) is walked in id order.
AUDIT_PAGE = """
SELECT id, at, actor, action, target, details FROM audit_log
WHERE ($1::text IS NULL OR actor = $1)
  AND ($2::text IS NULL OR action = $2)
  AND ($3::text IS NULL OR target = $3)
  AND ($4::timestamptz IS NULL OR at >= $4)
  AND ($5::timestamptz IS NULL OR at < $5)
  AND ($6::bigint IS NULL OR id < $6)
ORDER BY id DESC
LIMIT $7"""
AUDIT_PAGE_PLANS = "SET LOCAL plan_cache_mode = force_custom_plan"
# the rows about any of these targets (a lookup and its candidates), oldest first
AUDIT_OF_TARGETS = """
SELECT id, at, actor, action, target, details FROM audit_log
WHERE target = ANY($1::text[])
ORDER BY id"""
