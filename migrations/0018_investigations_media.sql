-- Reason: investigations wired into lookups (issue 17). A lookup is a photo, an album (a
-- Telegram media group: its photos collected first, then one lookup) or a clip (video, video
-- note, GIF animation); a lookup face is then a person, with the photo or frame of their best
-- face; a crowd photo records how many faces were not searched. A sighting belongs to one
-- person of its lookup, so a job that runs twice keeps it once. Alert messages are claimed by
-- the process sending them, so two processes never send one twice.

ALTER TABLE lookups
    ADD COLUMN media text NOT NULL DEFAULT 'photo'
        CHECK (media IN ('photo', 'album', 'video', 'video_note', 'animation')),
    ADD COLUMN faces_left_out integer NOT NULL DEFAULT 0 CHECK (faces_left_out >= 0);

-- photo_index: the album photo (0 for a photo or a clip); seen_in: photos or sampled frames the
-- person was found in; frame_jpeg, time_s: a clip's best frame of the person and its time
ALTER TABLE lookup_faces
    ADD COLUMN photo_index integer NOT NULL DEFAULT 0,
    ADD COLUMN seen_in integer NOT NULL DEFAULT 1 CHECK (seen_in >= 1),
    ADD COLUMN frame_jpeg bytea,
    ADD COLUMN time_s real;

-- A media group while its parts arrive (Telegram sends each as its own update, with the same
-- media_group_id). Each part's handler records it; once no part came for the wait, one
-- handler takes the album (taken_at, taken_by: that part's message): a lookup is recorded for
-- it in the same transaction, or, for an /enroll caption, its photos are enrolled (done_at
-- once replied); 'refused': over the sender's hourly limit. A part that comes after the album
-- was taken is a photo of its own.
CREATE TABLE albums (
    id              bigserial PRIMARY KEY,
    chat_id         bigint NOT NULL,
    media_group_id  text NOT NULL,
    user_id         bigint NOT NULL REFERENCES users (id),
    language        text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    last_part_at    timestamptz NOT NULL DEFAULT now(),
    taken_at        timestamptz,
    taken_by        bigint,
    purpose         text CHECK (purpose IN ('lookup', 'enroll', 'refused')),
    lookup_id       bigint REFERENCES lookups (id),
    done_at         timestamptz,
    UNIQUE (chat_id, media_group_id),
    CHECK ((taken_at IS NULL) = (purpose IS NULL)),
    CHECK ((purpose = 'lookup') = (lookup_id IS NOT NULL))
);
CREATE INDEX albums_lookup ON albums (lookup_id) WHERE lookup_id IS NOT NULL;
CREATE INDEX albums_time ON albums (created_at);

-- file_id and caption are cleared by the retention purge, as the lookups' file ids are
CREATE TABLE album_parts (
    album_id        bigint NOT NULL REFERENCES albums (id),
    message_id      bigint NOT NULL,
    update_id       bigint,
    file_id         text,
    file_size       bigint,
    caption         text,
    arrived_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (album_id, message_id)
);

-- the person of the lookup a sighting was kept for (lookup_faces.face_index)
ALTER TABLE sightings ADD COLUMN face_index integer;
CREATE UNIQUE INDEX sightings_one_per_person ON sightings (lookup_id, face_index)
    WHERE face_index IS NOT NULL;

ALTER TABLE alert_deliveries ADD COLUMN claimed_until timestamptz;
