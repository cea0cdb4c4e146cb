"""The SQL of the lookup history as pages (the console's /lookups): newest first, filtered,
paged by keyset."""

# --- the /lookups pages -----------------------------------------------------------------------
# Newest first by keyset (created_at, id): the cursor is a lookup's id, its place looked up in
# the statement. The plain column filters are "$n IS NULL OR ...": the pages run with custom
# plans (LOOKUP_PAGE_PLANS), so the planner sees the values and drops the filters not set.
# The filters on candidates and verdicts are subqueries, which the planner turns into joins only
# when they stand alone in the WHERE clause (not under an OR, even one it later folds away):
# so there is one statement per combination of those filters, each written out below
# (LOOKUP_PAGES), and never a filter it does not use.
# With an identity, the page is read from that identity's own candidates in lookup order
# (lookup_candidates_identity_time, migration 0016): its lookups newest first, one row each.
# Without, from lookups_time_id (or an officer's lookups_user_time_id, or a status's).
# A lookup's band is the best of its candidates' (a lead's band is never above the band of the
# face holding that identity); 'none': no candidate at all. Feedback 'confirmed' / 'rejected':
# some candidate has that verdict from someone; 'none': no verdict on any candidate.
_CANDIDATES_OF = """SELECT 1 FROM lookup_faces bf
              JOIN lookup_candidates bc ON bc.lookup_face_id = bf.id
              WHERE bf.lookup_id = l.id"""
_VERDICTS_OF = """SELECT 1 FROM lookup_faces ff
              JOIN lookup_candidates fc ON fc.lookup_face_id = ff.id
              JOIN feedback fb ON fb.candidate_id = fc.id
              WHERE ff.lookup_id = l.id"""
_BAND = {
    None: "",
    "strong": f"\n  AND EXISTS ({_CANDIDATES_OF} AND bc.band = 'strong')",
    "possible": f"""
  AND EXISTS ({_CANDIDATES_OF} AND bc.band = 'possible')
  AND NOT EXISTS ({_CANDIDATES_OF} AND bc.band = 'strong')""",
    "none": f"\n  AND NOT EXISTS ({_CANDIDATES_OF})",
}
_FEEDBACK = {
    None: "",
    "confirmed": f"\n  AND EXISTS ({_VERDICTS_OF} AND fb.verdict = 'confirmed')",
    "rejected": f"\n  AND EXISTS ({_VERDICTS_OF} AND fb.verdict = 'rejected')",
    "none": f"\n  AND NOT EXISTS ({_VERDICTS_OF})",
}
_PAGE_COLUMNS = """l.id, l.created_at, l.user_id, l.actor, l.source, l.status, l.face_count,
       u.first_name, u.last_name, u.username"""
# $1 officer, $2 since, $3 until, $4 status, $5 identity, $6 the cursor (a lookup id; NULL:
# the newest), $7 rows to return. Where the page is read from, and in which order: (created_at,
# id) of the lookup, from lookups or from the identity's candidates.
_SOURCES = {
    False: (
        "lookups l",
        "\n  AND $5::bigint IS NULL",  # unused, but every statement takes the same parameters
        "l.created_at",
        "l.id",
    ),
    True: (
        "lookup_candidates ic JOIN lookups l ON l.id = ic.lookup_id",
        "\n  AND ic.identity_id = $5 AND ic.held_by_face IS NULL",
        "ic.lookup_created_at",
        "ic.lookup_id",
    ),
}


def _lookup_page(direction: str, identity: bool, band: str | None, feedback: str | None) -> str:
    source, where, at, key = _SOURCES[identity]
    if direction == "older":
        keyset = f"""
  AND ($6::bigint IS NULL
       OR ({at}, {key}) < (SELECT k.created_at, k.id FROM lookups k WHERE k.id = $6))
ORDER BY {at} DESC, {key} DESC"""
    else:
        keyset = f"""
  AND ({at}, {key}) > (SELECT k.created_at, k.id FROM lookups k WHERE k.id = $6)
ORDER BY {at}, {key}"""
    return f"""
SELECT {_PAGE_COLUMNS}
FROM {source} LEFT JOIN users u ON u.id = l.user_id
WHERE ($1::bigint IS NULL OR l.user_id = $1)
  AND ($2::timestamptz IS NULL OR {at} >= $2)
  AND ($3::timestamptz IS NULL OR {at} < $3)
  AND ($4::text IS NULL OR l.status = $4){where}{_BAND[band]}{_FEEDBACK[feedback]}{keyset}
LIMIT $7"""


# (direction 'older' | 'newer', identity filtered, band, feedback) -> the page's statement
LOOKUP_PAGES: dict[tuple[str, bool, str | None, str | None], str] = {
    (direction, identity, band, feedback): _lookup_page(direction, identity, band, feedback)
    for direction in ("older", "newer")
    for identity in _SOURCES
    for band in _BAND
    for feedback in _FEEDBACK
}
# A generic plan cannot drop the filters that are not set, and walks the whole table: each
# page is planned for its own values (a millisecond).
LOOKUP_PAGE_PLANS = "SET LOCAL plan_cache_mode = force_custom_plan"
# the query faces of a page's lookups (thumbnails), and their own first candidates
LOOKUP_PAGE_FACES = """
SELECT lf.lookup_id, lf.id, lf.face_index, lf.crop_jpeg IS NULL AS purged
FROM lookup_faces lf
WHERE lf.lookup_id = ANY($1::bigint[])
ORDER BY lf.lookup_id, lf.face_index"""
LOOKUP_PAGE_CANDIDATES = """
SELECT lf.lookup_id, lf.face_index, c.identity_id, i.display_name, c.similarity, c.band,
       i.deleted_at IS NOT NULL AS identity_deleted,
       (SELECT fb.verdict FROM feedback fb WHERE fb.candidate_id = c.id
        ORDER BY fb.created_at DESC, fb.id DESC LIMIT 1) AS verdict
FROM lookup_faces lf
JOIN lookup_candidates c
  ON c.lookup_face_id = lf.id AND c.rank = 1 AND c.held_by_face IS NULL
JOIN identities i ON i.id = c.identity_id
WHERE lf.lookup_id = ANY($1::bigint[])
ORDER BY lf.lookup_id, lf.face_index"""
# a query face's aligned crop: no row (unknown), NULL (purged by retention) or the JPEG
LOOKUP_FACE_CROP = "SELECT crop_jpeg FROM lookup_faces WHERE id = $1"
