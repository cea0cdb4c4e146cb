"""The SQL of watchlists and their alerts (gallery/watchlists.py)."""

from __future__ import annotations

_ENTRY_COLUMNS = """e.id, e.identity_id, e.reason, e.expires_at, e.recipients, e.alert_possible,
    e.created_by, e.created_at, e.updated_by, e.updated_at, e.removed_by, e.removed_at,
    e.removal_reason, i.display_name"""
# in force: not removed, not expired, its identity not forgotten
_IN_FORCE = """e.removed_at IS NULL AND (e.expires_at IS NULL OR e.expires_at > now())
    AND i.deleted_at IS NULL"""

IDENTITY_ACTIVE = "SELECT id FROM identities WHERE id = $1 AND deleted_at IS NULL"
ENTRY_OPEN_FOR_IDENTITY = """
SELECT id, expires_at, expires_at IS NOT NULL AND expires_at <= now() AS expired
FROM watchlist_entries WHERE identity_id = $1 AND removed_at IS NULL
FOR UPDATE"""
ENTRY_OPEN_ID = """
SELECT id FROM watchlist_entries WHERE identity_id = $1 AND removed_at IS NULL"""
ENTRY_INSERT = """
INSERT INTO watchlist_entries (identity_id, reason, expires_at, recipients, alert_possible,
                               created_by)
VALUES ($1, $2, $3, $4, $5, $6)
RETURNING id"""
ENTRY_GET = f"""
SELECT {_ENTRY_COLUMNS} FROM watchlist_entries e JOIN identities i ON i.id = e.identity_id
WHERE e.id = $1"""
ENTRY_LOCK = """
SELECT e.id, e.identity_id, e.removed_at, e.expires_at,
       e.expires_at IS NOT NULL AND e.expires_at <= now() AS expired,
       e.recipients, e.alert_possible, i.deleted_at IS NOT NULL AS forgotten
FROM watchlist_entries e JOIN identities i ON i.id = e.identity_id
WHERE e.id = $1
FOR UPDATE OF e"""
ENTRY_UPDATE = """
UPDATE watchlist_entries SET reason = $2, expires_at = $3, recipients = $4, alert_possible = $5,
                             updated_by = $6, updated_at = now()
WHERE id = $1 AND removed_at IS NULL
RETURNING id"""
ENTRY_END = """
UPDATE watchlist_entries SET removed_at = now(), removed_by = $2, removal_reason = $3
WHERE id = $1 AND removed_at IS NULL
RETURNING id"""
ENTRIES_END_FOR_IDENTITY = """
UPDATE watchlist_entries SET removed_at = now(), removed_by = $2, removal_reason = $3
WHERE identity_id = $1 AND removed_at IS NULL
RETURNING id"""
# an identity merged into another: its entry follows it unless the other has one of its own
ENTRY_FOLLOW_MERGE = """
UPDATE watchlist_entries SET identity_id = $2
WHERE identity_id = $1 AND removed_at IS NULL
  AND NOT EXISTS (
      SELECT 1 FROM watchlist_entries t WHERE t.identity_id = $2 AND t.removed_at IS NULL)
RETURNING id"""
ENTRIES_IN_FORCE = f"""
SELECT {_ENTRY_COLUMNS} FROM watchlist_entries e JOIN identities i ON i.id = e.identity_id
WHERE {_IN_FORCE}
ORDER BY e.id"""
ENTRIES_IN_FORCE_FOR = f"""
SELECT {_ENTRY_COLUMNS} FROM watchlist_entries e JOIN identities i ON i.id = e.identity_id
WHERE {_IN_FORCE} AND e.identity_id = ANY($1::bigint[])
ORDER BY e.id"""
ENTRIES_ALL = f"""
SELECT {_ENTRY_COLUMNS} FROM watchlist_entries e JOIN identities i ON i.id = e.identity_id
ORDER BY e.id"""

# --- alerts -----------------------------------------------------------------------------------
# who is told: the listed admins, or every admin; only those approved admins now (an alert
# shows another user's lookup)
RECIPIENTS = """
SELECT id FROM users
WHERE status = 'approved' AND role = 'admin'
  AND ($1::bigint[] IS NULL OR id = ANY($1::bigint[]))
ORDER BY id"""
# whether a user may receive alerts now
RECIPIENT_ALLOWED = """
SELECT EXISTS (SELECT 1 FROM users WHERE id = $1 AND status = 'approved' AND role = 'admin')"""
_ALERT_COLUMNS = """id, entry_id, identity_id, lookup_id, candidate_id, band, similarity,
    recipients, burst_of, window_ends_at, summarised_at, summarised_count, actor, created_at"""
ALERT_OF_LOOKUP = f"""
SELECT {_ALERT_COLUMNS} FROM watchlist_alerts WHERE entry_id = $1 AND lookup_id = $2"""
# the burst under way for an identity: its first alert, while its window lasts
BURST_OPEN = """
SELECT id FROM watchlist_alerts
WHERE identity_id = $1 AND burst_of IS NULL AND window_ends_at > now()
ORDER BY id DESC LIMIT 1"""
ALERT_INSERT = f"""
INSERT INTO watchlist_alerts (entry_id, identity_id, lookup_id, candidate_id, band, similarity,
                              recipients, burst_of, window_ends_at, actor)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8,
        CASE WHEN $8::bigint IS NULL THEN now() + $9::interval END, $10)
RETURNING {_ALERT_COLUMNS}"""
ALERT_GET = f"SELECT {_ALERT_COLUMNS} FROM watchlist_alerts WHERE id = $1"
ALERTS_OF_LOOKUP = f"SELECT {_ALERT_COLUMNS} FROM watchlist_alerts WHERE lookup_id = $1 ORDER BY id"
DELIVERIES_ADD = """
INSERT INTO alert_deliveries (alert_id, user_id, kind)
SELECT $1, u, $3 FROM unnest($2::bigint[]) AS u
ON CONFLICT DO NOTHING"""
BURSTS_DUE = """
SELECT id FROM watchlist_alerts
WHERE burst_of IS NULL AND summarised_at IS NULL AND window_ends_at <= now()
ORDER BY window_ends_at, id
LIMIT $1"""
BURST_LOCK = f"""
SELECT {_ALERT_COLUMNS} FROM watchlist_alerts
WHERE id = $1 AND burst_of IS NULL AND summarised_at IS NULL AND window_ends_at <= now()
FOR UPDATE"""
BURST_FOLLOWERS = "SELECT count(*) FROM watchlist_alerts WHERE burst_of = $1"
BURST_LOOKUPS = "SELECT lookup_id FROM watchlist_alerts WHERE burst_of = $1 ORDER BY id"
BURST_SUMMARISED = """
UPDATE watchlist_alerts SET summarised_at = now(), summarised_count = $2 WHERE id = $1"""

# what a message about an alert says: who looked and when, the candidate, the entry
ALERT_DETAILS = """
SELECT a.id, a.entry_id, a.identity_id, a.lookup_id, a.candidate_id, a.band, a.similarity,
       a.burst_of, a.summarised_count, a.created_at,
       l.user_id AS looked_by, l.actor AS looked_actor, l.created_at AS looked_at,
       c.false_candidate_rate, c.lookup_face_id,
       e.reason, i.display_name, i.external_ref, i.deleted_at IS NOT NULL AS forgotten
FROM watchlist_alerts a
JOIN lookups l ON l.id = a.lookup_id
JOIN watchlist_entries e ON e.id = a.entry_id
JOIN identities i ON i.id = a.identity_id
LEFT JOIN lookup_candidates c ON c.id = a.candidate_id
WHERE a.id = $1"""

# --- deliveries -------------------------------------------------------------------------------
DELIVERIES_PENDING = """
SELECT d.alert_id, d.user_id, d.kind, d.attempts, d.created_at,
       i.deleted_at IS NOT NULL AS forgotten
FROM alert_deliveries d
JOIN watchlist_alerts a ON a.id = d.alert_id
JOIN identities i ON i.id = a.identity_id
WHERE d.sent_at IS NULL AND d.withheld_at IS NULL
ORDER BY d.created_at, d.alert_id, d.user_id, d.kind
LIMIT $1"""
# Messages not sent, withheld nor claimed by a process within its lease, oldest first: claimed
# for `$2` by the caller, so that two processes never send one message twice.
DELIVERIES_CLAIM = """
UPDATE alert_deliveries d SET claimed_until = now() + $2::interval
FROM (SELECT alert_id, user_id, kind FROM alert_deliveries
      WHERE sent_at IS NULL AND withheld_at IS NULL
        AND (claimed_until IS NULL OR claimed_until < now())
      ORDER BY created_at, alert_id, user_id, kind
      LIMIT $1
      FOR UPDATE SKIP LOCKED) due
WHERE d.alert_id = due.alert_id AND d.user_id = due.user_id AND d.kind = due.kind
RETURNING d.alert_id, d.user_id, d.kind, d.attempts, d.created_at,
          (SELECT i.deleted_at IS NOT NULL FROM watchlist_alerts a
           JOIN identities i ON i.id = a.identity_id WHERE a.id = d.alert_id) AS forgotten"""
DELIVERIES_DUE = """
SELECT count(*) FROM alert_deliveries
WHERE sent_at IS NULL AND withheld_at IS NULL
  AND (claimed_until IS NULL OR claimed_until < now())"""
DELIVERY_SENT = """
UPDATE alert_deliveries SET sent_at = now(), attempts = attempts + 1
WHERE alert_id = $1 AND user_id = $2 AND kind = $3 AND sent_at IS NULL AND withheld_at IS NULL
RETURNING alert_id"""
# a failed try waits before the next: 2 s doubling, at most 10 minutes
DELIVERY_FAILED = """
UPDATE alert_deliveries
SET attempts = attempts + 1, last_error = $4,
    claimed_until = now() + least(600, 2 ^ (attempts + 1)) * interval '1 second'
WHERE alert_id = $1 AND user_id = $2 AND kind = $3 AND sent_at IS NULL
RETURNING attempts"""
DELIVERY_WITHHELD = """
UPDATE alert_deliveries SET withheld_at = now(), last_error = $4
WHERE alert_id = $1 AND user_id = $2 AND kind = $3 AND sent_at IS NULL AND withheld_at IS NULL
RETURNING alert_id"""
DELIVERIES_WITHHOLD_FOR_IDENTITY = """
UPDATE alert_deliveries d SET withheld_at = now(), last_error = $2
FROM watchlist_alerts a
WHERE a.id = d.alert_id AND a.identity_id = $1 AND d.sent_at IS NULL AND d.withheld_at IS NULL"""
