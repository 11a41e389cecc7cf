"""Job engine, SQLite store, settings, secrets, hosting and webhook receiver; no Qt."""
