"""The one confirmation page of the admin: every irreversible, bulk or money-moving action shows
exactly what will happen to each row first, and runs only on Confirm, reporting row by row."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.contrib import messages
from django.contrib.admin import helpers
from django.template.response import TemplateResponse

from core.admin_tools import admin_actor
from core.errors import DomainError

TEMPLATE = "admin/confirm_action.html"


@dataclass(frozen=True)
class ConfirmRow:
    """One row of the page: the object, what will happen to it, or why nothing will."""

    object: Any
    change: str = ""
    refusal: str = ""
    cells: Sequence[Any] = field(default_factory=tuple)  # one per extra column, in order
    data: Any = None  # what the page worked out for the row, handed back to `done`

    @classmethod
    def refused(cls, obj, error: DomainError, *, columns: int = 0) -> ConfirmRow:
        return cls(obj, refusal=f"{error.message} [{error.code}]", cells=("",) * columns)


def confirmed(request, form=None) -> bool:
    """Whether staff pressed Confirm (with the page's form, when it asks something, valid)."""
    return request.method == "POST" and "_confirm" in request.POST and (form is None or form.is_valid())


def confirm_page(
    modeladmin,
    request,
    *,
    title: str,
    intro: str,
    rows: Iterable[ConfirmRow],
    confirm: str,
    columns: Sequence[str] = (),
    form=None,
    danger: bool = False,
    preview: str = "",
    none_apply: str = "It applies to none of the selected rows.",
    back: str = "",
) -> TemplateResponse:
    """The page itself: the rows, the form (if any), Confirm only when a row can go ahead.

    From an admin action the selection travels in hidden fields, so Confirm posts the same action
    again; from a page of its own (an "all due" button) the page's URL is posted back to.
    `preview` labels a button that recomputes the rows from the form without running anything;
    `back` is where "No, take me back" leads (the list by default, the object's page from one).
    """
    rows = list(rows)
    context = {
        **modeladmin.admin_site.each_context(request),
        "opts": modeladmin.model._meta,
        "title": title,
        "intro": intro,
        "rows": rows,
        "columns": columns,
        "form": form,
        "confirm": confirm,
        "danger": danger,
        "preview": preview,
        "none_apply": none_apply,
        "back": back,
        "can_confirm": any(not row.refusal for row in rows),
        "action": request.POST.get("action", ""),
        "selected": request.POST.getlist(helpers.ACTION_CHECKBOX_NAME),
    }
    return TemplateResponse(request, TEMPLATE, context)


def run_rows(
    modeladmin,
    request,
    rows: Iterable[ConfirmRow],
    run: Callable,
    *,
    done: Callable[[ConfirmRow], str] | str,
) -> int:
    """After Confirm: one service call per row, each with its own result message. Rows the page
    showed as refused are asked too: the service decides, and says why with its code."""
    succeeded = 0
    for row in rows:
        try:
            run(admin_actor(request), row.object)
        except DomainError as error:
            modeladmin.message_user(request, f"{row.object}: {error.message} [{error.code}]", messages.ERROR)
            continue
        succeeded += 1
        said = done(row) if callable(done) else done
        modeladmin.message_user(request, f"{row.object}: {said}", messages.SUCCESS)
    return succeeded
