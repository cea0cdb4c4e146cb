"""Who may do what: actors and access rules, decisions on users, erasure and retention, the
audit key and its witness."""
