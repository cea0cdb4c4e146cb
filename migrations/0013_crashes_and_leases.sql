-- Reason: no crash loop and no update handled twice (issue 14). A lookup whose job was under way
-- in a worker that died is counted, so a photo that kills its worker (out of memory, a native
-- crash) is closed as an error after a few deaths instead of killing the bot again and again; a
-- worker known to be dead (this host and pid namespace, its process gone) has its jobs taken over
-- at once, not after its heartbeat runs out; and a stored update is leased to the one process
-- handling it.

-- The processes running lookup jobs, by procrastinate's worker id (recorded by a worker's first
-- job): where and which process it is, so another process on the same host can tell that it is
-- gone. `pid_space` names the kernel boot and pid namespace in which `pid` means that process
-- (two containers never compare pids); `started` (seconds since the epoch) tells a reused pid
-- from the process. A row outlives its worker by a day (a worker restarted after a database
-- outage is still its live process's), then the queue's housekeeping deletes it.
CREATE TABLE queue_workers (
    worker_id   bigint PRIMARY KEY,
    name        text NOT NULL,
    host        text NOT NULL,
    pid         integer NOT NULL,
    started     double precision NOT NULL,
    pid_space   text NOT NULL,
    seen_at     timestamptz NOT NULL DEFAULT now()
);

-- `job_run`: the run of the lookup's job under way (job id:attempt) and `job_worker` the worker
-- running it, set as the run starts (after waiting for its turn, below); `crashes`: how many
-- times such a run was taken over from a worker that died. A lookup with crashes runs alone
-- among such lookups, and at FACEFIND_LOOKUP_CRASH_LIMIT it is closed instead of run again.
ALTER TABLE lookups
    ADD COLUMN job_run text,
    ADD COLUMN job_worker bigint,
    ADD COLUMN crashes integer NOT NULL DEFAULT 0;

-- The inbox's lease: the process handling an update, and until when (renewed while it runs).
-- Another process takes an unhandled update only once the lease has run out.
ALTER TABLE inbox
    ADD COLUMN claimed_by    text,
    ADD COLUMN claimed_until timestamptz;
