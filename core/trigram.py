"""Trigram indexes for the admin's text search on PostgreSQL, written by migrations (none elsewhere).

Django's `icontains` reads `UPPER("col"::text) LIKE UPPER('%term%')`: only a trigram (pg_trgm) GIN
index on that very expression serves it. Such an index is PostgreSQL's own, so it is created here
by SQL on PostgreSQL and skipped on SQLite (where the tests run); the models' state is unchanged.
"""

from __future__ import annotations

from django.db import migrations


def index_name(table: str, column: str) -> str:
    return f"{table}_{column}_trgm"[:63]


def trigram_indexes(*specs: tuple[str, str]) -> migrations.RunPython:
    """One migration step creating (and on reverse dropping) a trigram index per (table, column)."""

    def forward(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        for table, column in specs:
            schema_editor.execute(
                f'CREATE INDEX IF NOT EXISTS "{index_name(table, column)}" ON "{table}" '
                f'USING gin ((UPPER("{column}"::text)) gin_trgm_ops)'
            )

    def backward(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        for table, column in specs:
            schema_editor.execute(f'DROP INDEX IF EXISTS "{index_name(table, column)}"')

    return migrations.RunPython(forward, backward, elidable=False)
