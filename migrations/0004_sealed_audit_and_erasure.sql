-- Reason: the audit chain must stand up to whoever administers the database (issue 6). Rows are
-- now sealed by facefind with an HMAC under a key the database never holds; the trigger that
-- hashed rows inside the database (with functions any superuser can call again) is replaced by
-- one that only checks each new row continues the chain. Forgotten identities can now be erased:
-- their faces keep their ids (past lookups point at them) but lose embedding, crop and source.

-- --- the audit log ---------------------------------------------------------------------------
-- 'sha256': rows written before this migration, hashed by the old trigger; the first sealed
-- row's prev_hash binds them. 'hmac-sha256': sealed by facefind; key_id names the key.
ALTER TABLE audit_log
    ADD COLUMN scheme text NOT NULL DEFAULT 'sha256' CHECK (scheme IN ('sha256', 'hmac-sha256')),
    ADD COLUMN key_id text;
ALTER TABLE audit_log ALTER COLUMN scheme DROP DEFAULT;
CREATE INDEX audit_log_action ON audit_log (action, id);

DROP TRIGGER audit_log_chain ON audit_log;
DROP FUNCTION audit_log_chain();
DROP FUNCTION audit_payload(bigint, timestamptz, text, text, text, jsonb, text);

-- Checks, does not compute: the row's seal comes from the application. Several processes keep
-- one chain because each takes this lock before reading the head, and holds it to commit.
CREATE FUNCTION audit_log_continue() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    last_id   bigint;
    last_hash text;
BEGIN
    PERFORM pg_advisory_xact_lock(7408331020245);
    SELECT id, hash INTO last_id, last_hash FROM audit_log ORDER BY id DESC LIMIT 1;
    IF NEW.scheme IS DISTINCT FROM 'hmac-sha256' OR NEW.key_id IS NULL THEN
        RAISE EXCEPTION 'audit_log rows are sealed by facefind (scheme hmac-sha256 with a key id)'
            USING ERRCODE = 'check_violation';
    END IF;
    IF NEW.id IS DISTINCT FROM coalesce(last_id, 0) + 1
       OR NEW.prev_hash IS DISTINCT FROM coalesce(last_hash, repeat('0', 64)) THEN
        RAISE EXCEPTION 'audit_log row % does not continue the chain at row %', NEW.id, last_id
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER audit_log_continue BEFORE INSERT ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_continue();

-- --- erasure ---------------------------------------------------------------------------------
-- An erased face keeps id, identity, model, who and when; its biometric data is gone.
ALTER TABLE faces
    ALTER COLUMN embedding DROP NOT NULL,
    ALTER COLUMN crop_jpeg DROP NOT NULL,
    ALTER COLUMN source_sha256 DROP NOT NULL,
    ADD COLUMN erased_at timestamptz,
    ADD CONSTRAINT faces_active_have_embedding CHECK (NOT active OR embedding IS NOT NULL);
-- bulk imports stored an empty crop; "no crop" is NULL from now on
UPDATE faces SET crop_jpeg = NULL WHERE crop_jpeg = ''::bytea;

ALTER TABLE identities ADD COLUMN erased_at timestamptz;
CREATE INDEX identities_forgotten ON identities (deleted_at)
    WHERE deleted_at IS NOT NULL AND erased_at IS NULL;
