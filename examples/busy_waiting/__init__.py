"""Seed workflow 3, busy waiting: the seed's definition as written, run against a server."""
