"""Shared fixtures: a throwaway PostgreSQL server (``postgres_url``)."""

from pg_server import postgres_url  # noqa: F401  (re-exported as a fixture)
