"""The admin's search indexes on PostgreSQL, written by migrations (none elsewhere): trigram and prefix.

The admin searches a text field by `icontains`, which Django reads as
`UPPER("col"::text) LIKE UPPER('%term%')`: only a trigram (pg_trgm) GIN index on that very
expression serves it. It searches an identifier (`^field`, see core.admin_lists) by `istartswith`,
`UPPER("col"::text) LIKE UPPER('term%')`: a b-tree on the same expression with `text_pattern_ops`
serves it (the database's collation is not C, so a plain b-tree cannot serve a LIKE prefix).
Both are PostgreSQL's own, so they are created here by SQL on PostgreSQL and skipped on SQLite
(where the tests run); the models' state is unchanged.
"""

from __future__ import annotations

from django.db import migrations

# How each kind of index reads the searched expression: (name suffix, method, operator class).
KINDS = {"trgm": ("gin", "gin_trgm_ops"), "prefix": ("btree", "text_pattern_ops")}


def index_name(table: str, column: str, kind: str = "trgm") -> str:
    return f"{table}_{column}_{kind}"[:63]


def _searched_expression(connection, table: str, column: str) -> str:
    """The column as Django's case-insensitive lookups read it: HOST() for an inet, else a ::text cast."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = %s::regclass AND attname = %s",
            [table, column],
        )
        (type_name,) = cursor.fetchone()
    return f'UPPER(HOST("{column}"))' if type_name == "inet" else f'UPPER("{column}"::text)'


def search_indexes(kind: str, *specs: tuple[str, str]) -> migrations.RunPython:
    """One migration step creating (and on reverse dropping) a `kind` index per (table, column)."""
    method, opclass = KINDS[kind]

    def forward(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        if kind == "trgm":
            schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        for table, column in specs:
            expression = _searched_expression(schema_editor.connection, table, column)
            schema_editor.execute(
                f'CREATE INDEX IF NOT EXISTS "{index_name(table, column, kind)}" ON "{table}" '
                f"USING {method} (({expression}) {opclass})"
            )

    def backward(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        for table, column in specs:
            schema_editor.execute(f'DROP INDEX IF EXISTS "{index_name(table, column, kind)}"')

    return migrations.RunPython(forward, backward, elidable=False)


def trigram_indexes(*specs: tuple[str, str]) -> migrations.RunPython:
    """A trigram index per (table, column): what a text field's `icontains` search reads."""
    return search_indexes("trgm", *specs)


def prefix_indexes(*specs: tuple[str, str]) -> migrations.RunPython:
    """A pattern b-tree per (table, column): what an identifier's `istartswith` search reads."""
    return search_indexes("prefix", *specs)


def dropped(step: migrations.RunPython) -> migrations.RunPython:
    """The step undone: its indexes dropped on migrate and created again on reverse."""
    return migrations.RunPython(step.reverse_code, step.code, elidable=False)


def trigram_to_prefix(*specs: tuple[str, str]) -> list[migrations.RunPython]:
    """Identifiers that were searched as text: their prefix b-tree created, then their trigram dropped."""
    return [prefix_indexes(*specs), dropped(trigram_indexes(*specs))]
