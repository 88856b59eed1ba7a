"""Alembic migrations, shipped inside the package so `parley migrate` works when installed."""
