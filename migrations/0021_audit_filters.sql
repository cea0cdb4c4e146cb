-- Reason: the console's /audit (issue 16) lists the log newest first, filtered by actor, action
-- and date, and a lookup's page shows the rows about it. Walking the whole log for one actor or
-- one target took a scan of every row; these indexes find them in id order (action has
-- audit_log_action since 0004). Rows are appended in time order, so `at` follows `id`.

CREATE INDEX audit_log_actor ON audit_log (actor, id);
CREATE INDEX audit_log_target ON audit_log (target, id);
CREATE INDEX audit_log_at ON audit_log (at);
