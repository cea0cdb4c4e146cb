"""The Telegram front end: wiring, handlers by audience, delivery (inbox, outbox, Telegram I/O),
texts; a thin shell over the service layer (facefind)."""
