-- Reason: bulk loading (issue 8). A large load drops the vector indexes and builds them once
-- after the rows are in (several times faster than inserting into the graph row by row). The
-- definitions are kept here, in the transaction that drops them, so an interrupted load is
-- finished by the next run (or `facefind migrate`) instead of leaving the gallery unindexed.
CREATE TABLE deferred_indexes (
    name        text PRIMARY KEY,
    definition  text NOT NULL,
    dropped_by  text NOT NULL,
    dropped_at  timestamptz NOT NULL DEFAULT now()
);
