"""The SQL of the lookup queue's bookkeeping (workers, job runs, crashes) and of the bot's
instance lock, as named constants with $n parameters."""

# --- the processes running lookup jobs ----------------------------------------------------------
QUEUE_WORKER_RECORD = """
INSERT INTO queue_workers (worker_id, name, host, pid, started, pid_space)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (worker_id) DO UPDATE SET
    name = EXCLUDED.name, host = EXCLUDED.host, pid = EXCLUDED.pid, started = EXCLUDED.started,
    pid_space = EXCLUDED.pid_space, seen_at = now()"""
QUEUE_WORKERS_IN_SPACE = """
SELECT worker_id, name, host, pid, started, pid_space,
       EXISTS (SELECT 1 FROM procrastinate_workers p WHERE p.id = w.worker_id) AS registered
FROM queue_workers w
WHERE pid_space = $1 ORDER BY worker_id"""
QUEUE_WORKER_GET = """
SELECT worker_id, name, host, pid, started, pid_space FROM queue_workers WHERE worker_id = $1"""
QUEUE_WORKER_FORGET = "DELETE FROM queue_workers WHERE worker_id = $1"
# workers procrastinate forgot (stopped cleanly, or pruned after their heartbeat ran out) a day
# ago: until then a stalled run of theirs can still be traced to its process
QUEUE_WORKERS_FORGET_GONE = """
DELETE FROM queue_workers w
WHERE w.seen_at < now() - interval '1 day'
  AND NOT EXISTS (SELECT 1 FROM procrastinate_workers p WHERE p.id = w.worker_id)"""

# --- runs of a lookup's job, and the workers that died under them -------------------------------
LOOKUP_JOB_RUN = "UPDATE lookups SET job_run = $2, job_worker = $3 WHERE id = $1"
LOOKUP_JOB_RUN_GET = "SELECT job_run, job_worker FROM lookups WHERE id = $1"
# counted once per run: the mark is cleared by whichever process counts it first, and a newer
# run has another mark
LOOKUP_CRASHED = """
UPDATE lookups SET crashes = crashes + 1, job_run = NULL
WHERE id = $1 AND job_run = $2 AND status IN ('pending', 'replying')
RETURNING crashes"""
# the run ended in a process that lives on (its end could not be recorded: a database outage)
LOOKUP_JOB_RUN_ENDED = "UPDATE lookups SET job_run = NULL WHERE id = $1 AND job_run = $2"
# closed without analysis: the reply owed is the error's text
LOOKUP_ABANDON = """
UPDATE lookups SET status = 'replying', outcome = 'error', error = $2, finished_at = now()
WHERE id = $1 AND status = 'pending'
RETURNING id"""
# the lookups a dead worker was running, one at a time across every process
SUSPECT_LOCK_ID = 7408331020246
TRY_LOCK = "SELECT pg_try_advisory_lock($1)"
UNLOCK = "SELECT pg_advisory_unlock($1)"

# --- one bot process per bot ---------------------------------------------------------------------
# A session lock on a 64-bit key; pg_locks shows such a key as classid (high 32 bits) and objid
# (low 32 bits) with objsubid 1.
BOT_LOCK_HOLDER = """
SELECT a.application_name, a.client_addr::text AS client, a.backend_start
FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
  AND l.classid = $1::bigint::oid AND l.objid = $2::bigint::oid
LIMIT 1"""
# a session whose client stopped pinging (its machine gone) ends, and its lock with it
BOT_LOCK_IDLE_TIMEOUT = "SELECT set_config('idle_session_timeout', $1, false)"
PING = "SELECT 1"

# --- the console's /status: what waits in the queue, and the workers taking it ------------------
QUEUE_JOBS_WAITING = """
SELECT count(*) FILTER (WHERE status = 'todo') AS todo,
       count(*) FILTER (WHERE status = 'doing') AS doing
FROM procrastinate_jobs WHERE status IN ('todo', 'doing')"""
QUEUE_WORKERS_LIVE = """
SELECT p.id AS worker_id, p.last_heartbeat, w.name, w.host, w.pid
FROM procrastinate_workers p LEFT JOIN queue_workers w ON w.worker_id = p.id
ORDER BY p.id"""
