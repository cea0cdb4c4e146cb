"""The search's SQL (gallery/search.py): the HNSW shortlists, their settings, and the rows the
exact re-scoring reads. Every statement reads `faces` and `identity_templates` alone or joined
on the distribution column a sharded deployment would use (identity), so Citus can push each
one down to the shards (docs/scaling.md)."""

from __future__ import annotations


# Search: the HNSW indexes only shortlist; the caller re-scores exactly from the full vectors.
# The indexes hold half-precision copies (expression indexes, migration 0010): half the memory,
# and the order they give is only used to pick identities. iterative_scan keeps scanning when
# the model filter drops rows, so a shortlist is never silently short.
# SET takes no parameters; the values are ints, formatted here and nowhere else. SET LOCAL
# rather than set_config(): Citus sends SET LOCAL on to the shards (docs/scaling.md).
# enable_sort off: the planner prices computing every row's distance far too low (each
# 512-dimension embedding is read from TOAST, about 6 pages a row), so below some tens of
# thousands of rows it read them all and sorted: 14,000 sightings in no group took 94 to 113 ms a
# shortlist that way (a sequential or a bitmap scan), 14 ms through the HNSW index
# (bench/sightings_db.py, docs/benchmarks.md). Only the vector index gives rows in distance
# order, so pricing the sort out leaves it; where no index exists (a bulk load deferred it) the
# sort is still the plan, as the only one.
def search_settings(ef_search: int, max_scan_tuples: int) -> str:
    return (
        "SET LOCAL hnsw.iterative_scan = relaxed_order; "
        f"SET LOCAL hnsw.ef_search = {int(ef_search)}; "
        f"SET LOCAL hnsw.max_scan_tuples = {int(max_scan_tuples)}; "
        "SET LOCAL enable_sort = off"
    )


# The shortlists return distances, not vectors: the identities they name are re-scored from
# their vectors anyway, and under Citus each shard then sends the coordinator 200 small rows
# instead of 400 kB of vectors.
SEARCH_SHORTLIST = """
SELECT id, identity_id, embedding::halfvec(512) <=> $1::halfvec(512) AS distance FROM faces
WHERE active AND model = $2
ORDER BY distance
LIMIT $3"""
SEARCH_TEMPLATE_SHORTLIST = """
SELECT identity_id, embedding::halfvec(512) <=> $1::halfvec(512) AS distance
FROM identity_templates
WHERE model = $2
ORDER BY distance
LIMIT $3"""
# Exact search (the baseline that benchmarks and tests compare with): full-precision order,
# which no index serves, so both shortlists are sequential scans.
SEARCH_SHORTLIST_EXACT = """
SELECT id, identity_id, embedding <=> $1 AS distance FROM faces
WHERE active AND model = $2
ORDER BY distance
LIMIT $3"""
SEARCH_TEMPLATE_SHORTLIST_EXACT = """
SELECT identity_id, embedding <=> $1 AS distance FROM identity_templates
WHERE model = $2
ORDER BY distance
LIMIT $3"""

FACES_OF_IDENTITIES = """
SELECT f.id, f.identity_id, f.embedding, f.low_quality FROM faces f
JOIN identities i ON i.id = f.identity_id
WHERE f.identity_id = ANY($1::bigint[]) AND f.model = $2 AND f.active AND i.deleted_at IS NULL"""
TEMPLATES_OF_IDENTITIES = """
SELECT identity_id, embedding, ref_count FROM identity_templates
WHERE identity_id = ANY($1::bigint[]) AND model = $2"""
