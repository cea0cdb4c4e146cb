-- Reason: lose no photo and no reply (issue 6). Every Telegram update is stored before its offset
-- is confirmed (or before the webhook's 200) and handled from here exactly once; a lookup is
-- `done` only once its reply was delivered, and the reply's progress (message k of n) is kept so
-- a retry after a crash or a Bot API outage does not resend what arrived.

-- The durable inbox. The payload is the update as Telegram sent it; handled rows are deleted
-- by the bot's housekeeping a day after they were handled (they hold message texts and file ids).
-- Update ids are a sequence per bot (the token's numeric part), so a new token starts afresh.
CREATE TABLE inbox (
    bot_id       bigint NOT NULL,
    update_id    bigint NOT NULL,
    -- JSON as text: a message may hold a NUL character, which jsonb cannot store
    payload      text NOT NULL,
    received_at  timestamptz NOT NULL DEFAULT now(),
    handled_at   timestamptz,
    PRIMARY KEY (bot_id, update_id)
);
CREATE INDEX inbox_unhandled ON inbox (bot_id, update_id) WHERE handled_at IS NULL;

-- Lookups: 'pending' (received, not analysed) -> 'replying' (analysed, reply being delivered)
-- -> the outcome ('done', 'no_face', 'error') once delivered, or 'undelivered' when delivery was
-- given up. `outcome` keeps what the analysis concluded whatever happened to the reply.
ALTER TABLE lookups DROP CONSTRAINT lookups_status_check;
ALTER TABLE lookups ADD CONSTRAINT lookups_status_check
    CHECK (status IN ('pending', 'replying', 'done', 'no_face', 'error', 'undelivered'));
ALTER TABLE lookups
    ADD COLUMN update_id     bigint,
    ADD COLUMN language      text,
    ADD COLUMN outcome       text CHECK (outcome IN ('done', 'no_face', 'error')),
    -- the photo with numbered boxes (several faces): derived from the user's photo, so the
    -- retention purge clears it with the query face crops
    ADD COLUMN overview_jpeg bytea,
    ADD COLUMN reply_sent    integer NOT NULL DEFAULT 0,
    ADD COLUMN delivered_at  timestamptz;
DROP INDEX lookups_pending;
CREATE INDEX lookups_open ON lookups (status) WHERE status IN ('pending', 'replying');

-- The PostgreSQL task queue's schema (procrastinate) is applied by the migration runner right
-- after the numbered migrations, under the same lock; its version is recorded here.
CREATE TABLE queue_schema (
    component   text PRIMARY KEY,
    version     text NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now()
);
