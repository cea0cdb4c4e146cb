-- Reason: search at 1M faces (issue 8). The HNSW indexes only shortlist identities, which are
-- then re-scored exactly from the full-precision vectors, so they can hold half-precision
-- copies: half the memory (at 1M faces 2.6 GB -> 1.3 GB for the faces' graph), which keeps
-- both graphs in shared buffers, and faster distance computations. The columns keep their full
-- vectors. The templates' graph is denser (m = 32): at 1M faces (333k identities) with m = 16
-- it lost a shown candidate for 2.2% of queries, with m = 32 for 0.1-0.2% (docs/benchmarks.md).
-- A load that deferred the old indexes must not build them again over these.
DELETE FROM deferred_indexes WHERE name IN ('faces_embedding_hnsw', 'identity_templates_hnsw');
DROP INDEX IF EXISTS faces_embedding_hnsw;
CREATE INDEX faces_embedding_hnsw ON faces
    USING hnsw ((embedding::halfvec(512)) halfvec_cosine_ops)
    WITH (m = 16, ef_construction = 128)
    WHERE active;
DROP INDEX IF EXISTS identity_templates_hnsw;
CREATE INDEX identity_templates_hnsw ON identity_templates
    USING hnsw ((embedding::halfvec(512)) halfvec_cosine_ops)
    WITH (m = 32, ef_construction = 128);
