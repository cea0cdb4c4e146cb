"""The SQL of the durable inbox: Telegram updates and their leases."""

# --- inbox ------------------------------------------------------------------------------------
INBOX_STORE = """
INSERT INTO inbox (bot_id, update_id, payload)
SELECT $1, * FROM unnest($2::bigint[], $3::text[])
ON CONFLICT (bot_id, update_id) DO NOTHING"""
# An update is handled by the process holding its lease: one that is not leased, whose lease ran
# out (its process died or hangs), or that the claimer holds already (met a database outage).
_INBOX_CLAIMABLE = """handled_at IS NULL
      AND (claimed_until IS NULL OR claimed_until < now() OR claimed_by = $3)"""
INBOX_CLAIM_OF = f"""
UPDATE inbox SET claimed_by = $3, claimed_until = now() + make_interval(secs => $4)
WHERE bot_id = $1 AND update_id = ANY($2::bigint[])
  AND {_INBOX_CLAIMABLE}
RETURNING update_id"""
# rows another process is claiming are skipped, not waited for
INBOX_CLAIM = f"""
WITH free AS (
    SELECT bot_id, update_id FROM inbox
    WHERE bot_id = $1 AND NOT (update_id = ANY($2::bigint[]))
      AND {_INBOX_CLAIMABLE}
    ORDER BY update_id LIMIT $5
    FOR UPDATE SKIP LOCKED)
UPDATE inbox i SET claimed_by = $3, claimed_until = now() + make_interval(secs => $4)
FROM free WHERE i.bot_id = free.bot_id AND i.update_id = free.update_id
RETURNING i.update_id, i.payload"""
INBOX_RENEW = """
UPDATE inbox SET claimed_until = now() + make_interval(secs => $4)
WHERE bot_id = $1 AND update_id = ANY($2::bigint[]) AND claimed_by = $3 AND handled_at IS NULL"""
# at the start of the one process running the bot: no other one will finish what it claimed
INBOX_RELEASE = """
UPDATE inbox SET claimed_by = NULL, claimed_until = NULL
WHERE bot_id = $1 AND handled_at IS NULL AND claimed_by IS NOT NULL"""
INBOX_HANDLED = """
UPDATE inbox SET handled_at = now(), claimed_until = NULL
WHERE bot_id = $1 AND update_id = $2 AND handled_at IS NULL"""
INBOX_COUNT_UNHANDLED = "SELECT count(*) FROM inbox WHERE handled_at IS NULL"
INBOX_PURGE_HANDLED = "DELETE FROM inbox WHERE handled_at < $1"
