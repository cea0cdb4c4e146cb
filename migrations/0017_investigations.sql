-- Reason: investigations (issue 17). A face that gets no candidate is kept as a sighting for the
-- retention period, and sightings of one person are grouped into an unknown person, so a face
-- that comes back is told as seen before (the rules: facefind/scoring/sightings.py). An
-- identity can be put on a watchlist: a lookup that gives it as a candidate alerts the people
-- the entry names, one message per burst and then a count, each delivery recorded once.

-- An unknown person: sightings taken for one person nobody has named. `embedding` is the
-- normalised mean of its sightings (of the good ones when it has any), kept only while it is
-- open: it shortlists groups, and every shortlisted group is re-scored from its sightings.
-- 'named' turned it into an identity; 'dismissed' dissolved a wrong grouping; 'merged' moved
-- its sightings into `merged_into`; 'expired' lost its sightings to retention.
CREATE TABLE unknown_persons (
    id              bigserial PRIMARY KEY,
    model           text NOT NULL REFERENCES models (name),
    state           text NOT NULL DEFAULT 'open'
                    CHECK (state IN ('open', 'named', 'dismissed', 'merged', 'expired')),
    embedding       vector(512),
    sighting_count  integer NOT NULL DEFAULT 0 CHECK (sighting_count >= 0),
    identity_id     bigint REFERENCES identities (id),
    merged_into     bigint REFERENCES unknown_persons (id),
    decided_by      text,
    decided_at      timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CHECK (state <> 'open' OR embedding IS NOT NULL),
    CHECK ((state = 'named') = (identity_id IS NOT NULL)),
    CHECK ((state = 'merged') = (merged_into IS NOT NULL))
);
CREATE INDEX unknown_persons_template_hnsw ON unknown_persons
    USING hnsw ((embedding::halfvec(512)) halfvec_cosine_ops)
    WITH (m = 16, ef_construction = 128)
    WHERE state = 'open';
CREATE INDEX unknown_persons_open ON unknown_persons (model, sighting_count) WHERE state = 'open';
CREATE INDEX unknown_persons_identity ON unknown_persons (identity_id) WHERE identity_id IS NOT NULL;

-- A face of a lookup that got no candidate. Deleted whole at the end of the retention period,
-- and when the identity its group was named as is forgotten. `apart` lists the groups an admin
-- dismissed while it was in them: it never shares a group with their other sightings again
-- (nor with another face of its own lookup photo: lookup_id, photo_index).
CREATE TABLE sightings (
    id              bigserial PRIMARY KEY,
    model           text NOT NULL REFERENCES models (name),
    embedding       vector(512) NOT NULL,
    recipe          text NOT NULL,
    det_score       real NOT NULL,
    quality         jsonb NOT NULL,
    quality_score   real NOT NULL,
    low_quality     boolean NOT NULL DEFAULT false,
    bbox            real[] NOT NULL,
    crop_jpeg       bytea,
    source_sha256   text,
    lookup_id       bigint NOT NULL REFERENCES lookups (id),
    lookup_face_id  bigint REFERENCES lookup_faces (id),
    photo_index     integer NOT NULL DEFAULT 0,
    user_id         bigint REFERENCES users (id),
    actor           text NOT NULL,
    group_id        bigint REFERENCES unknown_persons (id),
    -- grouped: in an open group; alone: in none; deferred: in none, left for the nightly pass;
    -- named: its group became an identity (no longer searched)
    state           text NOT NULL CHECK (state IN ('grouped', 'alone', 'deferred', 'named')),
    reason          text,
    apart           bigint[] NOT NULL DEFAULT '{}',
    created_at      timestamptz NOT NULL DEFAULT now(),
    CHECK ((state IN ('grouped', 'named')) = (group_id IS NOT NULL))
);
-- Half-precision copies, as the gallery's (migration 0010): the indexes only shortlist. Two
-- graphs, of the sightings in open groups and of those in none: a face photographed hundreds of
-- times fills a shortlist with its own group's sightings, and must not hide a sighting in no
-- group (its own shortlist), nor a group (the templates' shortlist).
CREATE INDEX sightings_grouped_hnsw ON sightings
    USING hnsw ((embedding::halfvec(512)) halfvec_cosine_ops)
    WITH (m = 16, ef_construction = 128)
    WHERE state = 'grouped';
CREATE INDEX sightings_alone_hnsw ON sightings
    USING hnsw ((embedding::halfvec(512)) halfvec_cosine_ops)
    WITH (m = 16, ef_construction = 128)
    WHERE group_id IS NULL;
CREATE INDEX sightings_group ON sightings (group_id) WHERE group_id IS NOT NULL;
CREATE INDEX sightings_ungrouped ON sightings (model, id) WHERE group_id IS NULL;
CREATE INDEX sightings_time ON sightings (created_at);
CREATE INDEX sightings_lookup ON sightings (lookup_id);

-- An identity on the watchlist. `recipients` NULL: every approved admin at the time of the
-- alert. Removal is a mark, never a delete: who watched whom, and why, stays on record.
CREATE TABLE watchlist_entries (
    id              bigserial PRIMARY KEY,
    identity_id     bigint NOT NULL REFERENCES identities (id),
    reason          text NOT NULL CHECK (length(btrim(reason)) > 0),
    expires_at      timestamptz,
    recipients      bigint[],
    alert_possible  boolean NOT NULL DEFAULT true,
    created_by      text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_by      text,
    updated_at      timestamptz,
    removed_by      text,
    removed_at      timestamptz,
    removal_reason  text
);
CREATE UNIQUE INDEX watchlist_entries_one_per_identity ON watchlist_entries (identity_id)
    WHERE removed_at IS NULL;

-- A lookup that gave a watchlisted identity as a candidate, once per entry and lookup. The
-- first alert of a burst (burst_of NULL) is sent; later ones until `window_ends_at` only count
-- (burst_of: the first), and once the window is over the first gets a summary with the count.
CREATE TABLE watchlist_alerts (
    id              bigserial PRIMARY KEY,
    entry_id        bigint NOT NULL REFERENCES watchlist_entries (id),
    identity_id     bigint NOT NULL REFERENCES identities (id),
    lookup_id       bigint NOT NULL REFERENCES lookups (id),
    candidate_id    bigint REFERENCES lookup_candidates (id),
    band            text NOT NULL CHECK (band IN ('strong', 'possible')),
    similarity      real NOT NULL,
    recipients      bigint[] NOT NULL,
    burst_of        bigint REFERENCES watchlist_alerts (id),
    window_ends_at  timestamptz,
    summarised_at   timestamptz,
    summarised_count integer,
    actor           text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (entry_id, lookup_id),
    CHECK ((burst_of IS NULL) = (window_ends_at IS NOT NULL))
);
CREATE INDEX watchlist_alerts_bursts ON watchlist_alerts (identity_id, created_at DESC)
    WHERE burst_of IS NULL;
CREATE INDEX watchlist_alerts_due ON watchlist_alerts (window_ends_at)
    WHERE burst_of IS NULL AND summarised_at IS NULL;
CREATE INDEX watchlist_alerts_burst_of ON watchlist_alerts (burst_of) WHERE burst_of IS NOT NULL;

-- One message to one person: the alert ('alert') or its burst's count ('count'). Sent once:
-- the outbox marks it sent; `withheld_at` marks one never to send (its identity forgotten).
CREATE TABLE alert_deliveries (
    alert_id        bigint NOT NULL REFERENCES watchlist_alerts (id),
    user_id         bigint NOT NULL REFERENCES users (id),
    kind            text NOT NULL CHECK (kind IN ('alert', 'count')),
    created_at      timestamptz NOT NULL DEFAULT now(),
    attempts        integer NOT NULL DEFAULT 0,
    last_error      text,
    sent_at         timestamptz,
    withheld_at     timestamptz,
    PRIMARY KEY (alert_id, user_id, kind)
);
CREATE INDEX alert_deliveries_pending ON alert_deliveries (created_at)
    WHERE sent_at IS NULL AND withheld_at IS NULL;
