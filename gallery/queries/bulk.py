"""The SQL of bulk loading and of export between deployments, and of the vector indexes a large
load defers."""

# --- bulk loading ---------------------------------------------------------------------------
IDENTITY_IDS_RESERVE = "SELECT nextval('identities_id_seq') FROM generate_series(1, $1)"
IDENTITIES_INSERT_MANY = """
INSERT INTO identities (id, display_name, external_ref, notes, created_by, uid)
SELECT i, n, r, x, c, coalesce(u, gen_random_uuid())
FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::uuid[])
     AS t(i, n, r, x, c, u)"""
# --- export / import between deployments ---
IDENTITIES_BY_UID = """
SELECT id, uid, deleted_at FROM identities WHERE uid = ANY($1::uuid[])"""
EXPORT_IDENTITIES = """
SELECT i.uid, i.display_name, i.external_ref, i.notes, i.created_by, i.created_at
FROM identities i
WHERE i.deleted_at IS NULL
  AND EXISTS (SELECT 1 FROM faces f WHERE f.identity_id = i.id AND f.model = $1 AND f.active)
ORDER BY i.id"""
_EXPORT_FACES_FROM = """
FROM faces f JOIN identities i ON i.id = f.identity_id
WHERE f.model = $1 AND f.active AND i.deleted_at IS NULL
ORDER BY f.id"""
EXPORT_FACES_META = (
    """SELECT i.uid, f.det_score, f.quality, f.bbox, f.source_sha256, f.added_by, f.created_at,
       f.recipe, f.low_quality, coalesce(octet_length(f.crop_jpeg), 0) AS crop_bytes"""
    + _EXPORT_FACES_FROM
)
EXPORT_FACES_EMBEDDINGS = "SELECT f.embedding" + _EXPORT_FACES_FROM
EXPORT_FACES_CROPS = "SELECT f.crop_jpeg" + _EXPORT_FACES_FROM
EXPORT_TEMPLATES = """
SELECT i.uid, t.embedding, t.ref_count FROM identity_templates t
JOIN identities i ON i.id = t.identity_id
WHERE t.model = $1 AND i.deleted_at IS NULL
ORDER BY i.id"""
# faces arrive by COPY into a staging table, then move with the same conflict rule as one face
FACES_STAGING = """
CREATE TEMP TABLE faces_staging (
    ord bigint, identity_id bigint, model text, embedding vector(512), det_score real,
    quality jsonb, bbox real[], crop_jpeg bytea, source_sha256 text, added_by text,
    recipe text, low_quality boolean
) ON COMMIT DROP"""
FACES_STAGING_COLUMNS = (
    "ord", "identity_id", "model", "embedding", "det_score", "quality", "bbox", "crop_jpeg",
    "source_sha256", "added_by", "recipe", "low_quality",
)  # fmt: skip
FACES_FROM_STAGING = """
INSERT INTO faces (identity_id, model, embedding, det_score, quality, bbox, crop_jpeg,
                   source_sha256, added_by, recipe, low_quality)
SELECT identity_id, model, embedding, det_score, quality, bbox, crop_jpeg, source_sha256,
       added_by, recipe, low_quality
FROM faces_staging ORDER BY ord
ON CONFLICT (identity_id, model, source_sha256) DO NOTHING
RETURNING id, identity_id, source_sha256"""
# the HNSW indexes searches walk, with their sizes
VECTOR_INDEXES = """
SELECT i.indexname, i.indexdef, pg_relation_size(format('%I', i.indexname)::regclass) AS bytes
FROM pg_indexes i
WHERE i.schemaname = current_schema() AND i.tablename IN ('faces', 'identity_templates')
  AND i.indexdef ILIKE '%USING hnsw%'
ORDER BY i.indexname"""
# The HNSW indexes a large load may drop, and how the owner builds them again: from here, by
# name, never from text a table holds (text the runtime role could write would be SQL run as
# the owner). As migration 0010 defines them; a migration that changes one changes it here.
VECTOR_INDEX_DEFINITIONS: dict[str, str] = {
    "faces_embedding_hnsw": """
CREATE INDEX IF NOT EXISTS faces_embedding_hnsw ON faces
    USING hnsw ((embedding::halfvec(512)) halfvec_cosine_ops)
    WITH (m = 16, ef_construction = 128)
    WHERE active""",
    "identity_templates_hnsw": """
CREATE INDEX IF NOT EXISTS identity_templates_hnsw ON identity_templates
    USING hnsw ((embedding::halfvec(512)) halfvec_cosine_ops)
    WITH (m = 32, ef_construction = 128)""",
}
DEFERRED_INDEX_ADD = """
INSERT INTO deferred_indexes (name, dropped_by) VALUES ($1, $2)
ON CONFLICT (name) DO NOTHING"""
DEFERRED_INDEXES = "SELECT name FROM deferred_indexes ORDER BY name"
DEFERRED_INDEX_DONE = "DELETE FROM deferred_indexes WHERE name = $1"


def drop_index(name: str) -> str:
    # DDL takes no parameters; the name comes from pg_indexes, quoted as an identifier
    return 'DROP INDEX IF EXISTS "' + name.replace('"', '""') + '"'
