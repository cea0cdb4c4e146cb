-- Reason: at 100k faces the default graph (m = 16, ef_construction = 64) lost the true identity
-- from a 200-face shortlist for 0.5% of queries and changed 2.2% of candidate lists against
-- exact search (bench/search.py, docs/benchmarks.md); ef_construction = 128 cut that to 0.3%.
-- A denser graph costs build time (about 1.5x), not query time.
DROP INDEX IF EXISTS faces_embedding_hnsw;
CREATE INDEX faces_embedding_hnsw ON faces USING hnsw (embedding vector_cosine_ops)
    WITH (m = 16, ef_construction = 128)
    WHERE active;
