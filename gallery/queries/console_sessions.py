"""The SQL of the console's sign-in: one-time links and sessions, kept as hashes of their tokens."""

# the user a link or session belongs to, with their role and status as stored now (the columns
# of gallery.records.User)
_USER = """u.id, u.first_name, u.last_name, u.username, u.language, u.role, u.status,
       u.decided_by, u.decided_at, u.created_at"""

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
SELECT s.method, s.created_at AS session_created_at, s.last_seen_at, s.ended_at, s.end_reason,
       {_USER}
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
