"""facefind: face identification against a PostgreSQL gallery, with a Telegram front end."""

__version__ = "0.1.0"
