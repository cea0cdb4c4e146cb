"""The SQL of identities, their reference faces and templates, and the model packs they were
embedded with."""

# --- models -----------------------------------------------------------------------------------
MODEL_GET = "SELECT name, detector_sha256, recognizer_sha256, dim FROM models WHERE name = $1"
MODEL_INSERT = """
INSERT INTO models (name, detector_sha256, recognizer_sha256, dim) VALUES ($1, $2, $3, $4)
ON CONFLICT (name) DO NOTHING"""

# --- identities -------------------------------------------------------------------------------
_IDENTITY_COLUMNS = """i.id, i.display_name, i.external_ref, i.notes, i.created_by, i.created_at,
    i.deleted_at, i.erased_at, i.merged_into,
    (SELECT count(*) FROM faces f WHERE f.identity_id = i.id AND f.active) AS face_count"""
IDENTITY_INSERT = """
INSERT INTO identities (display_name, external_ref, notes, created_by) VALUES ($1, $2, $3, $4)
RETURNING id"""
IDENTITY_GET = f"SELECT {_IDENTITY_COLUMNS} FROM identities i WHERE i.id = $1"
IDENTITY_BY_NAME = f"""
SELECT {_IDENTITY_COLUMNS} FROM identities i
WHERE i.deleted_at IS NULL AND lower(i.display_name) = lower($1)
ORDER BY i.id"""
IDENTITY_NAME_LIKE = f"""
SELECT {_IDENTITY_COLUMNS} FROM identities i
WHERE i.deleted_at IS NULL AND i.display_name ILIKE '%' || $1 || '%' ESCAPE '!'
ORDER BY i.display_name, i.id
LIMIT $2"""
IDENTITY_LIST = f"""
SELECT {_IDENTITY_COLUMNS} FROM identities i
WHERE ($1 OR i.deleted_at IS NULL)
ORDER BY i.display_name, i.id"""
IDENTITY_SOFT_DELETE = """
UPDATE identities SET deleted_at = now(), deleted_by = $2
WHERE id = $1 AND deleted_at IS NULL
RETURNING id"""
FACES_DEACTIVATE = "UPDATE faces SET active = false WHERE identity_id = $1 AND active"
IDENTITY_RESTORE = """
UPDATE identities SET deleted_at = NULL, deleted_by = NULL
WHERE id = $1 AND deleted_at IS NOT NULL AND erased_at IS NULL AND merged_into IS NULL
RETURNING id"""
FACES_REACTIVATE = """
UPDATE faces SET active = true WHERE identity_id = $1 AND NOT active AND embedding IS NOT NULL"""
# Erasure keeps the rows (past lookups point at them: who, when, which identity) and drops
# what identifies the person: embeddings, pictures, photo hashes, name, reference and notes.
IDENTITY_ERASE = """
UPDATE identities SET erased_at = now(), display_name = '(erased #' || id || ')',
                      external_ref = NULL, notes = NULL
WHERE id = $1 AND deleted_at IS NOT NULL AND erased_at IS NULL
RETURNING id"""
FACES_ERASE = """
UPDATE faces SET embedding = NULL, crop_jpeg = NULL, source_sha256 = NULL, quality = '{}',
                 active = false, erased_at = now()
WHERE identity_id = $1 AND erased_at IS NULL"""
IDENTITIES_TO_ERASE = """
SELECT id FROM identities
WHERE deleted_at IS NOT NULL AND erased_at IS NULL AND merged_into IS NULL AND deleted_at <= $1
ORDER BY id"""

# --- the console's identity pages: found by name or reference, newest first; renamed, merged ---
# $1 the text (NULL: every identity), $2 forgotten ones too, $3 the cursor (an id; NULL: the
# newest), $4 rows. The name and the reference are matched literally (% and _ escaped by '!').
IDENTITY_SEARCH = f"""
SELECT {_IDENTITY_COLUMNS} FROM identities i
WHERE ($1::text IS NULL OR i.display_name ILIKE '%' || $1 || '%' ESCAPE '!'
       OR i.external_ref ILIKE '%' || $1 || '%' ESCAPE '!')
  AND ($2 OR i.deleted_at IS NULL)
  AND ($3::bigint IS NULL OR i.id < $3)
ORDER BY i.id DESC
LIMIT $4"""
# a rename or a new reference, of an identity still in use; what it was before, for the audit
IDENTITY_EDIT = """
UPDATE identities i SET display_name = $2, external_ref = $3
FROM (SELECT id, display_name, external_ref FROM identities WHERE id = $1 FOR UPDATE) old
WHERE i.id = old.id AND i.deleted_at IS NULL
RETURNING old.display_name AS old_name, old.external_ref AS old_ref"""
# both identities of a merge, locked in id order (two merges of the same pair cannot deadlock)
IDENTITIES_LOCK = """
SELECT id, deleted_at IS NULL AS active FROM identities
WHERE id = ANY($1::bigint[]) ORDER BY id FOR UPDATE"""
# the faces of the identity merged away join the other one, but for photos the other one has
# already (the same photo cannot be enrolled twice for one identity): those stay, inactive
FACES_MOVE = """
UPDATE faces f SET identity_id = $2
WHERE f.identity_id = $1
  AND NOT EXISTS (SELECT 1 FROM faces g WHERE g.identity_id = $2 AND g.model = f.model
                  AND g.source_sha256 = f.source_sha256)"""
IDENTITY_MERGED = """
UPDATE identities SET deleted_at = now(), deleted_by = $3, merged_into = $2
WHERE id = $1 AND deleted_at IS NULL
RETURNING id"""

# --- faces ------------------------------------------------------------------------------------
FACE_INSERT = """
INSERT INTO faces (identity_id, model, embedding, det_score, quality, bbox, crop_jpeg,
                   source_sha256, added_by, recipe, low_quality)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
ON CONFLICT (identity_id, model, source_sha256) DO NOTHING
RETURNING id"""


# An identity's templates, one per model: the normalised mean of its active references, of the
# good ones when it has any (a flagged reference is there only for want of a better one).
def _templates_build(where: str) -> str:
    return f"""
INSERT INTO identity_templates (identity_id, model, embedding, ref_count)
SELECT f.identity_id, f.model,
       coalesce(l2_normalize(avg(f.embedding) FILTER (WHERE NOT f.low_quality)),
                l2_normalize(avg(f.embedding))),
       count(*)
FROM faces f
WHERE {where} AND f.active
GROUP BY f.identity_id, f.model"""


TEMPLATES_DELETE = "DELETE FROM identity_templates WHERE identity_id = ANY($1::bigint[])"
TEMPLATES_BUILD = _templates_build("f.identity_id = ANY($1::bigint[])")
# every template of a model in one statement, after a bulk load (not identity by identity)
TEMPLATES_DELETE_MODEL = "DELETE FROM identity_templates WHERE model = $1"
TEMPLATES_BUILD_MODEL = _templates_build("f.model = $1")
TEMPLATE_GET = """
SELECT embedding, ref_count FROM identity_templates WHERE identity_id = $1 AND model = $2"""
GALLERY_SIZE = """
SELECT least(ref_count, 3) AS refs, count(*) AS identities FROM identity_templates
WHERE model = $1 GROUP BY 1"""
FACES_OF_OTHER_RECIPES = """
SELECT recipe, count(*) AS faces FROM faces
WHERE model = $1 AND active AND recipe <> $2 GROUP BY recipe ORDER BY recipe"""
FACES_OF_OTHER_MODELS = """
SELECT model, count(*) AS faces FROM faces WHERE active AND model <> $1 GROUP BY model"""
# re-embedding walks the faces by id, so an interrupted run resumes where it stopped
FACES_TO_REEMBED = """
SELECT id, identity_id, crop_jpeg FROM faces
WHERE model = $1 AND active AND recipe <> $2 AND id > $3
ORDER BY id LIMIT $4"""
FACES_TO_REEMBED_COUNT = """
SELECT count(*) FROM faces WHERE model = $1 AND active AND recipe <> $2"""
FACE_SET_EMBEDDING = "UPDATE faces SET embedding = $2, recipe = $3 WHERE id = $1"

# what a folder load skips, and how large the gallery is
SOURCE_HASHES = "SELECT DISTINCT source_sha256 FROM faces WHERE model = $1 AND active"
FACES_COUNT = "SELECT count(*) FROM faces WHERE model = $1 AND active"
FACE_BY_SOURCE = """
SELECT f.id, f.identity_id, i.display_name FROM faces f JOIN identities i ON i.id = f.identity_id
WHERE f.source_sha256 = $1 AND f.model = $2 AND f.active
ORDER BY f.id"""
_FACE_COLUMNS = """id, identity_id, model, det_score, quality, bbox, crop_jpeg, source_sha256,
    added_by, created_at, active, recipe, low_quality"""
FACE_GET = f"SELECT {_FACE_COLUMNS} FROM faces WHERE id = $1"
FACES_OF_IDENTITY = f"""
SELECT {_FACE_COLUMNS} FROM faces WHERE identity_id = $1 AND active ORDER BY id"""
# another model pack's faces not yet embedded with this one (facefind reembed --from-model)
FACES_OF_MODEL_TO_COPY = f"""
SELECT {_FACE_COLUMNS} FROM faces f
WHERE f.model = $1 AND f.active AND f.id > $3
  AND NOT EXISTS (SELECT 1 FROM faces g WHERE g.identity_id = f.identity_id AND g.model = $2
                  AND g.source_sha256 = f.source_sha256)
ORDER BY f.id LIMIT $4"""


IDENTITIES_BY_IDS = f"""
SELECT {_IDENTITY_COLUMNS} FROM identities i WHERE i.id = ANY($1::bigint[])"""
