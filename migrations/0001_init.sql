-- Reason: initial schema: models, users, identities, faces, lookups, candidates, feedback, audit log.

CREATE EXTENSION IF NOT EXISTS vector;

-- Every embedding names the model that made it; a search never compares two models.
CREATE TABLE models (
    name              text PRIMARY KEY,
    detector_sha256   text NOT NULL,
    recognizer_sha256 text NOT NULL,
    dim               integer NOT NULL DEFAULT 512,
    created_at        timestamptz NOT NULL DEFAULT now()
);

-- Telegram users who asked for access. Actors are written as text ('tg:<id>', 'cli:<os user>',
-- 'config') so the CLI and start-up configuration can act without a Telegram account.
CREATE TABLE users (
    id          bigint PRIMARY KEY,
    first_name  text NOT NULL DEFAULT '',
    last_name   text,
    username    text,
    language    text,
    role        text NOT NULL DEFAULT 'officer' CHECK (role IN ('officer', 'admin')),
    status      text NOT NULL DEFAULT 'pending'
                CHECK (status IN ('pending', 'approved', 'rejected', 'revoked')),
    decided_by  text,
    decided_at  timestamptz,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX users_status ON users (status);

CREATE TABLE identities (
    id            bigserial PRIMARY KEY,
    display_name  text NOT NULL CHECK (length(btrim(display_name)) > 0),
    external_ref  text,
    notes         text,
    created_by    text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    deleted_at    timestamptz,
    deleted_by    text
);
CREATE INDEX identities_name ON identities (lower(display_name)) WHERE deleted_at IS NULL;

CREATE TABLE faces (
    id             bigserial PRIMARY KEY,
    identity_id    bigint NOT NULL REFERENCES identities (id),
    model          text NOT NULL REFERENCES models (name),
    embedding      vector(512) NOT NULL,
    det_score      real NOT NULL,
    quality        jsonb NOT NULL,
    bbox           real[] NOT NULL,
    crop_jpeg      bytea NOT NULL,
    source_sha256  text NOT NULL,
    added_by       text NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    -- false once the identity is forgotten; kept on the row so the vector index can filter it
    active         boolean NOT NULL DEFAULT true
);
CREATE UNIQUE INDEX faces_identity_source ON faces (identity_id, model, source_sha256);
CREATE INDEX faces_source ON faces (source_sha256, model) WHERE active;
CREATE INDEX faces_identity ON faces (identity_id);
-- Partial: forgotten faces never enter the candidate lists. Searches also filter on model with
-- hnsw.iterative_scan so a filter cannot silently shrink the result.
CREATE INDEX faces_embedding_hnsw ON faces USING hnsw (embedding vector_cosine_ops) WHERE active;

CREATE TABLE lookups (
    id            bigserial PRIMARY KEY,
    user_id       bigint REFERENCES users (id),
    actor         text NOT NULL,
    source        text NOT NULL CHECK (source IN ('telegram', 'cli')),
    chat_id       bigint,
    message_id    bigint,
    file_id       text,
    photo_sha256  text,
    model         text,
    status        text NOT NULL DEFAULT 'pending'
                  CHECK (status IN ('pending', 'done', 'no_face', 'error')),
    error         text,
    face_count    integer,
    timings       jsonb NOT NULL DEFAULT '{}',
    created_at    timestamptz NOT NULL DEFAULT now(),
    finished_at   timestamptz,
    -- one Telegram message gives one lookup, however often the update is delivered
    UNIQUE (chat_id, message_id)
);
CREATE INDEX lookups_user_time ON lookups (user_id, created_at DESC);
CREATE INDEX lookups_time ON lookups (created_at);
CREATE INDEX lookups_pending ON lookups (status) WHERE status = 'pending';

CREATE TABLE lookup_faces (
    id          bigserial PRIMARY KEY,
    lookup_id   bigint NOT NULL REFERENCES lookups (id),
    face_index  integer NOT NULL,
    bbox        real[] NOT NULL,
    det_score   real NOT NULL,
    quality     jsonb NOT NULL,
    -- the aligned query face; cleared by the retention purge
    crop_jpeg   bytea,
    UNIQUE (lookup_id, face_index)
);

CREATE TABLE lookup_candidates (
    id              bigserial PRIMARY KEY,
    lookup_face_id  bigint NOT NULL REFERENCES lookup_faces (id),
    rank            integer NOT NULL,
    identity_id     bigint NOT NULL REFERENCES identities (id),
    face_id         bigint NOT NULL REFERENCES faces (id),
    similarity      real NOT NULL,
    band            text NOT NULL CHECK (band IN ('strong', 'possible')),
    UNIQUE (lookup_face_id, rank)
);

CREATE TABLE feedback (
    id            bigserial PRIMARY KEY,
    candidate_id  bigint NOT NULL REFERENCES lookup_candidates (id),
    user_id       bigint REFERENCES users (id),
    actor         text NOT NULL,
    verdict       text NOT NULL CHECK (verdict IN ('confirmed', 'rejected')),
    created_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (candidate_id, actor)
);

-- Append-only audit log. Each row carries the hash of the previous one; the trigger assigns id,
-- time and hashes under a lock, so the chain follows commit order and no caller can forge it.
CREATE TABLE audit_log (
    id         bigint PRIMARY KEY,
    at         timestamptz NOT NULL,
    actor      text NOT NULL,
    action     text NOT NULL,
    target     text,
    details    jsonb NOT NULL DEFAULT '{}',
    prev_hash  text NOT NULL,
    hash       text NOT NULL
);
CREATE SEQUENCE audit_log_id_seq OWNED BY audit_log.id;

CREATE FUNCTION audit_payload(p_id bigint, p_at timestamptz, p_actor text, p_action text,
                              p_target text, p_details jsonb, p_prev text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT p_prev || E'\n' || p_id::text || E'\n'
        || to_char(p_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') || E'\n'
        || p_actor || E'\n' || p_action || E'\n' || coalesce(p_target, '') || E'\n'
        || p_details::text
$$;

CREATE FUNCTION audit_log_chain() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    last_hash text;
BEGIN
    -- one writer at a time, held to commit: the chain order is the commit order
    PERFORM pg_advisory_xact_lock(7408331020245);
    SELECT hash INTO last_hash FROM audit_log ORDER BY id DESC LIMIT 1;
    NEW.id := nextval('audit_log_id_seq');
    NEW.at := clock_timestamp();
    NEW.details := coalesce(NEW.details, '{}'::jsonb);
    NEW.prev_hash := coalesce(last_hash, repeat('0', 64));
    NEW.hash := encode(sha256(convert_to(audit_payload(NEW.id, NEW.at, NEW.actor, NEW.action,
                                                       NEW.target, NEW.details, NEW.prev_hash),
                                         'UTF8')), 'hex');
    RETURN NEW;
END
$$;

CREATE FUNCTION audit_log_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE TRIGGER audit_log_chain BEFORE INSERT ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_chain();
CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_refuse();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_refuse();
