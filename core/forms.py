"""How a service's refusal shows on a Django form, in the admin and the dashboard alike."""

from __future__ import annotations

from collections.abc import Callable

from core.errors import DomainError


def show_domain_error(
    form, error: DomainError, field_for: Callable[[str], str | None] | None = None, *, with_code: bool = False
) -> None:
    """A refusal of a service becomes the form's errors: its message on top, field errors in place
    (errors about fields the form does not show, or about the whole object, join the message).
    `field_for` names the form field of a service field where their names differ; support staff
    see the refusal's code too (`with_code`)."""
    form.add_error(None, f"{error.message} [{error.code}]" if with_code else error.message)
    for name, errors in error.fields.items():
        field = field_for(name) if field_for else name
        for text in [errors] if isinstance(errors, str) else errors:
            if field in form.fields and not form.fields[field].disabled:
                form.add_error(field, text)
            elif text != error.message:
                form.add_error(None, text)
