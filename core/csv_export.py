"""CSV cells a spreadsheet will not run as formulas: every CSV the project writes goes through here.

A cell starting with `=`, `+`, `-`, `@`, a tab or a carriage return is read as a formula by
spreadsheets (`=HYPERLINK(...)` in a customer name becomes a link, worse with DDE). OWASP's rule
(CSV Injection): prefix such a cell with a single quote, so it is shown as the text it is. Numbers
stay numbers: int, Decimal and float values are written as they are, and so is a text cell that is
a plain number ("-10.00", "+3"), since a spreadsheet reads it as that number and nothing else.

The rule is applied by hand rather than with defusedcsv (3.0.0): the same prefix, but defusedcsv
leaves a leading tab or carriage return alone (OWASP lists both), also rewrites `|` inside the cell
and treats `%` as a trigger, and would be a dependency for ten lines.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Iterator
from numbers import Number

# What makes a spreadsheet read a cell as a formula (OWASP, CSV Injection).
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)")


def safe_cell(value):
    """`value` ready for a CSV cell: None as empty, numbers as they are, formula-like text quoted."""
    if value is None:
        return ""
    if isinstance(value, Number):
        return value
    text = str(value)
    if text.startswith(FORMULA_TRIGGERS) and not _PLAIN_NUMBER.fullmatch(text):
        return "'" + text
    return text


class _Echo:
    """A file that hands back what is written: csv.writer then returns each line."""

    def write(self, value: str) -> str:
        return value


class SafeWriter:
    """csv.writer whose every cell goes through safe_cell; writerow returns the line written."""

    def __init__(self, file=None, **fmtparams):
        self._writer = csv.writer(file if file is not None else _Echo(), **fmtparams)

    def writerow(self, row: Iterable):
        return self._writer.writerow([safe_cell(value) for value in row])

    def writerows(self, rows: Iterable[Iterable]) -> None:
        for row in rows:
            self.writerow(row)


def csv_lines(header: Iterable, rows: Iterable[Iterable], *, bom: bool = True) -> Iterator[str]:
    """The header and then each row as CSV lines (UTF-8 BOM first so spreadsheets read accents)."""
    writer = SafeWriter()
    yield ("\ufeff" if bom else "") + writer.writerow(header)
    for row in rows:
        yield writer.writerow(row)


def iso_date(value) -> str:
    """A date cell of an export: YYYY-MM-DD, or empty when there is none."""
    return value.strftime("%Y-%m-%d") if value else ""
