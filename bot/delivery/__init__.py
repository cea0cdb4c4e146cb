"""Getting messages in and out: the durable inbox, the lookup jobs, the reply outbox and its
pieces, Telegram I/O with its one retry policy, notices to admins."""
