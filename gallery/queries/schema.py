"""The SQL of the schema's upkeep: migrations, start-up checks, the runtime role and its
grants, scratch databases; named constants with $n parameters."""

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
    "album_parts": "SELECT, INSERT, UPDATE",  # retention clears the file ids
    "albums": "SELECT, INSERT, UPDATE",
    "alert_deliveries": "SELECT, INSERT, UPDATE",  # sent or withheld once, never deleted
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
    "sightings": "SELECT, INSERT, UPDATE, DELETE",  # retention and forget delete them
    "unknown_persons": "SELECT, INSERT, UPDATE",  # groups end with a state, never deleted
    "users": "SELECT, INSERT, UPDATE",
    "watchlist_alerts": "SELECT, INSERT, UPDATE",  # a burst's first alert gets its count
    "watchlist_entries": "SELECT, INSERT, UPDATE",  # removal is a mark
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
