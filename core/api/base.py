"""Base pieces for API views: the acting user, the access gate, the 202 answer of vendor calls."""

from django import forms
from django.contrib.auth import get_permission_codename
from django_filters import rest_framework as filters
from rest_framework import permissions

from core.actor import Actor, Face
from core.error_codes import CoreErrorCode
from core.errors import PermissionDenied

STAFF_API_PERMISSION_REQUIRED = CoreErrorCode.STAFF_API_PERMISSION_REQUIRED


def api_actor(request) -> Actor:
    return Actor(request.user, Face.API)


def staff_may_view(user, model) -> bool:
    """What the admin's has_view_permission says for this model: its view or change permission."""
    opts = model._meta
    return any(
        user.has_perm(f"{opts.app_label}.{get_permission_codename(action, opts)}")
        for action in ("view", "change")
    )


def endpoint_model(view):
    """The model an endpoint serves: its queryset's, as DRF's DjangoModelPermissions finds it."""
    model = getattr(view, "staff_permission_model", None)
    if model is not None:
        return model
    queryset = view.get_queryset() if hasattr(view, "get_queryset") else getattr(view, "queryset", None)
    return None if queryset is None else queryset.model


class IsMemberOrStaff(permissions.BasePermission):
    """Only reseller members and active staff use the API; roles are checked by the services.

    Staff reach an endpoint only with the admin view (or change) permission of the model it
    serves, so a staff token sees exactly what that user's admin shows, model by model; the
    action itself is then checked by the service (its own permission). Without it: 403
    `staff_api_permission_required`, before anything is read.
    """

    message = "This account belongs to no partner."

    def has_permission(self, request, view):
        user = request.user
        if not (user and user.is_authenticated):
            return False
        if api_actor(request).is_staff:
            model = endpoint_model(view)
            if model is None or not staff_may_view(user, model):
                opts = model._meta if model is not None else None
                needed = (
                    f"{opts.app_label}.{get_permission_codename('view', opts)}"
                    if opts
                    else "a view permission"
                )
                raise PermissionDenied(
                    f"Staff use the API with the admin permission to view what it serves ({needed}).",
                    code=STAFF_API_PERMISSION_REQUIRED,
                )
            return True
        return hasattr(user, "membership")


# --- Filters by a foreign id --------------------------------------------------------------------
# django-filter's default for a foreign key (?customer=ID) validates the id against every row of
# the table: another partner's id filters to an empty list (200) while a missing one is refused
# (400), which tells them apart. Here a foreign id is a plain number applied to the already scoped
# queryset: another partner's id, a missing id and an own id with no rows all answer 200 with an
# empty list, the same body.

BIGINT_MAX = 2**63 - 1


class IdFilter(filters.Filter):
    """A foreign key filtered by its id as a number, never looked up (so it says nothing about
    whether the row exists or whose it is). Not a whole number in 1..2^63-1: 400, for any id."""

    field_class = forms.IntegerField

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", BIGINT_MAX)
        kwargs.setdefault("lookup_expr", "exact")
        super().__init__(*args, **kwargs)


class IdFilterSet(filters.FilterSet):
    """A FilterSet whose foreign keys named in Meta.fields are IdFilters (see above)."""

    @classmethod
    def filter_for_field(cls, field, field_name, lookup_expr=None):
        if field.is_relation and (field.many_to_one or field.one_to_one) and lookup_expr in (None, "exact"):
            return IdFilter(field_name=field_name, label=str(field.verbose_name).capitalize())
        return super().filter_for_field(field, field_name, lookup_expr)


def with_id_filters(filterset_class):
    """`filterset_class` with each foreign-key choice filter replaced by an IdFilter."""
    if filterset_class is None or issubclass(filterset_class, IdFilterSet):
        return filterset_class
    cached = _ID_FILTERSETS.get(filterset_class)
    if cached is None:
        replaced = {
            name: IdFilter(field_name=f.field_name, label=f.label)
            if isinstance(f, filters.ModelChoiceFilter) and f.lookup_expr == "exact"
            else f
            for name, f in filterset_class.base_filters.items()
        }
        cached = type(filterset_class.__name__, (filterset_class,), {"Meta": filterset_class.Meta})
        cached.base_filters = replaced
        _ID_FILTERSETS[filterset_class] = cached
    return cached


_ID_FILTERSETS: dict = {}


class IdFilterBackend(filters.DjangoFilterBackend):
    """DjangoFilterBackend whose foreign-key filters are IdFilters, for `filterset_fields` and for
    explicit FilterSets alike. Meant as REST_FRAMEWORK's DEFAULT_FILTER_BACKENDS entry in place of
    django_filters' own, which fixes every list at once."""

    filterset_base = IdFilterSet

    def get_filterset_class(self, view, queryset=None):
        return with_id_filters(super().get_filterset_class(view, queryset))
