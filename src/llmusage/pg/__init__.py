"""The operational PostgreSQL: resolving the URL and connecting (`connect`), the embedded server
(`embedded`), migrations (`migrations`) and what `llmusage db status` shows (`status`)."""
