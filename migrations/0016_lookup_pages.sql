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
-- "who looked up this person": the candidates naming an identity, then their lookups
CREATE INDEX lookup_candidates_identity ON lookup_candidates (identity_id, lookup_face_id);
