-- Reason: the admin web console (issue 16). Admins sign in without a password: with a one-time
-- link the bot sends (valid 5 minutes, for one admin) or from the bot's Mini App (Telegram's
-- signed initData). Both give a session kept in a cookie. Only SHA-256 hashes of the link's and
-- the session's tokens are stored: whoever reads this table cannot sign in with what it holds.
-- Times are written by facefind (its clock), not by the database, so expiry is decided in one
-- place.

CREATE TABLE console_login_tokens (
    token_hash  bytea PRIMARY KEY CHECK (length(token_hash) = 32),
    user_id     bigint NOT NULL REFERENCES users (id),
    -- who asked for the link (tg:<id> from the bot, cli:<user> from the command line)
    issued_by   text NOT NULL,
    created_at  timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL,
    -- set once, by the request that signs in with it: a link works once
    used_at     timestamptz,
    CHECK (expires_at > created_at)
);
-- housekeeping deletes links past their time
CREATE INDEX console_login_tokens_expires ON console_login_tokens (expires_at);

CREATE TABLE console_sessions (
    token_hash    bytea PRIMARY KEY CHECK (length(token_hash) = 32),
    user_id       bigint NOT NULL REFERENCES users (id),
    method        text NOT NULL CHECK (method IN ('link', 'webapp')),
    created_at    timestamptz NOT NULL,
    -- renewed by requests (at most once a minute); 12 hours without one end the session
    last_seen_at  timestamptz NOT NULL,
    ended_at      timestamptz,
    end_reason    text CHECK (end_reason IN ('sign_out', 'idle', 'access_withdrawn')),
    CHECK ((ended_at IS NULL) = (end_reason IS NULL))
);
-- an admin's open sessions (ended together when the admin loses access)
CREATE INDEX console_sessions_user ON console_sessions (user_id) WHERE ended_at IS NULL;
-- housekeeping deletes sessions long ended or idle
CREATE INDEX console_sessions_last_seen ON console_sessions (last_seen_at);
