"""Helpers the tests share: `db` (test databases, running the CLI), `proxy` (the mock provider and the proxy
as real processes on loopback, HTTP, spend consistency) and `reliability` (keys, models and load for the
fault tests)."""
