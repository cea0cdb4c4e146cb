-- Reason: security (issue 14). The owner rebuilt a deferred index by executing the definition
-- kept in this table, which the runtime role could write: SQL it planted there ran as the owner
-- at the next `facefind migrate` or bulk load. Only the index's name is kept now; the owner
-- builds it from the definition in the code (gallery.queries.VECTOR_INDEX_DEFINITIONS), and the
-- runtime role may only read this table. Rows naming any other index were not written by
-- facefind: they go.
DELETE FROM deferred_indexes WHERE name NOT IN ('faces_embedding_hnsw', 'identity_templates_hnsw');
ALTER TABLE deferred_indexes DROP COLUMN definition;
