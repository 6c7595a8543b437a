"""Database helpers below the services: an UPDATE that returns the rows it changed."""

from __future__ import annotations

from django.db import connections, models
from django.db.models.sql import UpdateQuery


def returns_rows(queryset: models.QuerySet) -> bool:
    """Whether the queryset's database returns rows from an UPDATE (PostgreSQL, SQLite 3.35+)."""
    return connections[queryset.db].features.can_return_columns_from_insert  # the same RETURNING support


def update_returning(queryset: models.QuerySet, fields: list[str] | None = None, **values) -> list:
    """UPDATE every row `queryset` selects and return those rows as they are now (only `fields`,
    default all), in one statement: the rows returned are exactly the rows changed.

    Only where returns_rows() (the caller keeps its own way for the others). Meant for a filter on
    the model's own columns (no joins), such as tasks.claim()'s or states.move_all()'s."""
    model, connection = queryset.model, connections[queryset.db]
    assert not queryset.query.is_sliced, "an UPDATE cannot be sliced"
    query = queryset.query.chain(UpdateQuery)
    query.add_update_values(values)
    query.clear_ordering(force=True)
    compiler = query.get_compiler(queryset.db)
    compiler.pre_sql_setup()
    sql, params = compiler.as_sql()
    concrete = model._meta.concrete_fields
    read = [field for field in concrete if fields is None or field.name in fields]
    columns = [field.get_col(model._meta.db_table) for field in read]
    quote = connection.ops.quote_name
    sql = f"{sql} RETURNING {', '.join(quote(field.column) for field in read)}"
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    converters = [
        connection.ops.get_db_converters(column) + field.get_db_converters(connection)
        for field, column in zip(read, columns, strict=True)
    ]
    names = [field.attname for field in read]
    found = []
    for row in rows:
        values_read = []
        for convert, column, value in zip(converters, columns, row, strict=True):
            for converter in convert:
                value = converter(value, column, connection)
            values_read.append(value)
        found.append(model.from_db(queryset.db, names, values_read))
    return found
