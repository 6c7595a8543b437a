"""Small reads the reconciliation tests share."""

from reconciliation.models import Finding


def open_findings(partner) -> list[Finding]:
    return list(Finding.objects.filter(partner=partner, state="open").order_by("kind", "rule", "pk"))


def found(partner) -> list[tuple[str, str]]:
    """(kind, rule) of every open finding of the partner, sorted."""
    return [(f.kind, f.rule) for f in open_findings(partner)]
