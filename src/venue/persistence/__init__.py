"""The SQL read model (DESIGN.md §9): tables, migrations, the projector and the queries.

Depends on `venue.views` (the shared order reducer), `venue.journal` (catch-up and rebuild
replay the journal read-only) and `venue.core`; nothing below imports it.
"""
