-- Reason: accuracy (issue 7). An identity is scored from all its references, not only its best
-- face: a template per identity and model (the normalised mean of its reference embeddings)
-- is kept with the faces. Every face records the embedding recipe that made it (mirror-image
-- averaging changed it), so a gallery of mixed recipes is found and re-embedded, never
-- silently compared. A reference enrolled although poor (blurry, turned, small) is flagged:
-- every candidate matched through it says so.

ALTER TABLE faces ADD COLUMN recipe text NOT NULL DEFAULT 'plain';
ALTER TABLE faces ALTER COLUMN recipe DROP DEFAULT;
ALTER TABLE faces ADD COLUMN low_quality boolean NOT NULL DEFAULT false;
-- start-up counts the faces of another recipe; facefind reembed walks them
CREATE INDEX faces_model_recipe ON faces (model, recipe) WHERE active;

CREATE TABLE identity_templates (
    identity_id  bigint NOT NULL REFERENCES identities (id),
    model        text NOT NULL REFERENCES models (name),
    embedding    vector(512) NOT NULL,
    -- active references behind the template: the false match rate of an identity's score
    -- grows with them (its best face is the best of several tries)
    ref_count    integer NOT NULL CHECK (ref_count > 0),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (identity_id, model)
);
CREATE INDEX identity_templates_hnsw ON identity_templates
    USING hnsw (embedding vector_cosine_ops) WITH (m = 16, ef_construction = 128);
CREATE INDEX identity_templates_model ON identity_templates (model, ref_count);

-- the templates of the faces already enrolled
INSERT INTO identity_templates (identity_id, model, embedding, ref_count)
SELECT f.identity_id, f.model, l2_normalize(avg(f.embedding)), count(*)
FROM faces f JOIN identities i ON i.id = f.identity_id
WHERE f.active AND i.deleted_at IS NULL
GROUP BY f.identity_id, f.model;

-- What a candidate meant when it was shown: the expected share of people not enrolled who
-- would score as high against a gallery of that size, and whether the reference it matched
-- is a flagged one; the lookup keeps the bands in force (they follow the gallery's size).
ALTER TABLE lookup_candidates ADD COLUMN false_candidate_rate double precision;
ALTER TABLE lookup_candidates ADD COLUMN low_quality_ref boolean NOT NULL DEFAULT false;
ALTER TABLE lookups ADD COLUMN bands jsonb NOT NULL DEFAULT '{}';
