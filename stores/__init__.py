"""Persistence for Viora. Open everything with :func:`stores.open.open_stores`.

Kept empty on purpose: importing :mod:`kernel.errors` must not pull in psycopg or pgserver.
"""
