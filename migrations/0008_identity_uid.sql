-- Reason: moving a gallery between deployments (facefind gallery export / import, issue 8).
-- An identity keeps a stable id of its own across deployments, so an import finds the ones it
-- brought before (a repeated import is a no-op) and never merges two people who share a name.
ALTER TABLE identities ADD COLUMN uid uuid NOT NULL DEFAULT gen_random_uuid();
CREATE UNIQUE INDEX identities_uid ON identities (uid);
