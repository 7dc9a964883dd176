"""Alembic migrations of the SQL read model (run through `venue.persistence.database.upgrade`)."""
