-- Reason: the console's /lookups page (issue 16) pages through the history newest first by
-- keyset, (created_at, id), so a page deep in 1M lookups costs what the first one does
-- (bench/lookup_pages.py). Each index ends with id so that two lookups of one instant keep
-- their order between pages. The two indexes they replace were their own prefixes: every query
-- that used them (retention by time, the rate limit per user) is served by the new ones.

CREATE INDEX lookups_time_id ON lookups (created_at, id);
DROP INDEX lookups_time;
CREATE INDEX lookups_user_time_id ON lookups (user_id, created_at, id);
DROP INDEX lookups_user_time;
-- the rare statuses (error, undelivered) are found without walking the whole history
CREATE INDEX lookups_status_time_id ON lookups (status, created_at, id);

-- "Who looked up this person, and when?" A candidate carries its lookup's id and time, so that
-- an identity's lookups come newest first straight from one index, however often the identity
-- was matched; walking the whole history for them took over 100 ms at 1M lookups. A trigger
-- fills both from the candidate's query face on every insert (whatever the insert says): they
-- are never written otherwise, and a lookup's time never changes.
ALTER TABLE lookup_candidates
    ADD COLUMN lookup_id bigint,
    ADD COLUMN lookup_created_at timestamptz;
UPDATE lookup_candidates c SET lookup_id = lf.lookup_id, lookup_created_at = l.created_at
FROM lookup_faces lf JOIN lookups l ON l.id = lf.lookup_id
WHERE lf.id = c.lookup_face_id;
ALTER TABLE lookup_candidates
    ALTER COLUMN lookup_id SET NOT NULL,
    ALTER COLUMN lookup_created_at SET NOT NULL;

CREATE FUNCTION lookup_candidates_place() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    SELECT lf.lookup_id, l.created_at INTO NEW.lookup_id, NEW.lookup_created_at
    FROM lookup_faces lf JOIN lookups l ON l.id = lf.lookup_id
    WHERE lf.id = NEW.lookup_face_id;
    RETURN NEW;
END
$$;
CREATE TRIGGER lookup_candidates_place BEFORE INSERT ON lookup_candidates
    FOR EACH ROW EXECUTE FUNCTION lookup_candidates_place();

-- a face's own candidates only: one identity is given to one face of a photo, so an identity
-- has one such row per lookup (a lead repeats it on another face: not indexed)
CREATE INDEX lookup_candidates_identity_time ON lookup_candidates
    (identity_id, lookup_created_at, lookup_id) WHERE held_by_face IS NULL;
