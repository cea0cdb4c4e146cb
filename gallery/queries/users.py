"""The SQL of bot users: who asked for access, their status and role."""

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
# the console's /users: each user with their lookups and when they last did anything (a lookup,
# or a request in the console); a decision others took on them is not their activity
USERS_ACTIVITY = """
SELECT u.id, u.first_name, u.last_name, u.username, u.language, u.role, u.status, u.decided_by,
       u.decided_at, u.created_at,
       (SELECT count(*) FROM lookups l WHERE l.user_id = u.id) AS lookups,
       greatest((SELECT max(l.created_at) FROM lookups l WHERE l.user_id = u.id),
                (SELECT max(s.last_seen_at) FROM console_sessions s WHERE s.user_id = u.id))
           AS last_active
FROM users u
WHERE ($1::text IS NULL OR u.status = $1)
ORDER BY u.status, u.created_at"""
