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
