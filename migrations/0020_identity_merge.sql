-- Reason: the console (issue 16) merges two identities that turn out to be one person. The
-- identity merged away keeps its row, as a forgotten one does: past lookups name it, and the
-- audit log names its id. `merged_into` says where its faces went; such an identity is never
-- restored (it has no faces left) and never erased by the purge (its name is what past lookups
-- show, and the faces it had are the other identity's now).

ALTER TABLE identities ADD COLUMN merged_into bigint REFERENCES identities (id);
ALTER TABLE identities ADD CONSTRAINT identities_merged_is_deleted
    CHECK (merged_into IS NULL OR deleted_at IS NOT NULL);
