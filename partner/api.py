"""REST API over partners, customers and subaccounts; every write calls the partner services."""

from __future__ import annotations

from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema, extend_schema_field, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from core.api.base import IdFilterSet, IsMemberOrStaff, api_actor
from core.api.fields import ModelSerializer, UtcDateTimeField
from core.errors import ValidationFailed
from partner import selectors, services
from partner.models import Customer, Partner, Subaccount, SubaccountState, Vendor
from partner.onboarding import onboarding_checklist

# --- Serializers ---------------------------------------------------------------------------


class ChecklistItemSerializer(serializers.Serializer):
    key = serializers.CharField()
    label = serializers.CharField()
    done = serializers.BooleanField()
    hint = serializers.CharField()


class PartnerSerializer(ModelSerializer):
    onboarding_complete = serializers.SerializerMethodField()
    onboarding = serializers.SerializerMethodField()
    has_digicert_credentials = serializers.SerializerMethodField()
    has_cloudflare_credentials = serializers.SerializerMethodField()

    class Meta:
        model = Partner
        fields = [
            "id",
            "slug",
            *services.PARTNER_PROFILE_FIELDS,
            "onboarding_complete",
            "onboarding",
            "has_digicert_credentials",
            "has_cloudflare_credentials",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "slug", "created_at", "updated_at"]
        # The unit's uniqueness is the service's rule (one code, case and spaces ignored).
        extra_kwargs = {"cloudflare_unit_id": {"validators": []}}

    def _checklist(self, obj):
        cache = self.context.setdefault("_checklists", {})
        if obj.pk not in cache:
            cache[obj.pk] = onboarding_checklist(obj, customer_count=getattr(obj, "n_customers", None))
        return cache[obj.pk]

    def get_onboarding_complete(self, obj) -> bool:
        return all(item.done for item in self._checklist(obj))

    @extend_schema_field(ChecklistItemSerializer(many=True))
    def get_onboarding(self, obj):
        return ChecklistItemSerializer(self._checklist(obj), many=True).data

    def get_has_digicert_credentials(self, obj) -> bool:
        return bool(obj.digicert_api_key)

    def get_has_cloudflare_credentials(self, obj) -> bool:
        return bool(obj.cloudflare_api_token)


class CustomerSerializer(ModelSerializer):
    partner = serializers.PrimaryKeyRelatedField(
        queryset=Partner.objects.all(),
        required=False,
        help_text="Staff only: the partner to add the customer to. Members always use their own.",
    )

    class Meta:
        model = Customer
        fields = ["id", "partner", *services.CUSTOMER_FIELDS, "created_at", "updated_at"]
        read_only_fields = ["id", "created_at", "updated_at"]
        validators = []  # uniqueness is the service's call (it knows the partner)


class OwnCustomerField(serializers.PrimaryKeyRelatedField):
    """One of the caller's own customers, by a whole-number id: `1.5` is not customer 1, and another
    partner's id is refused exactly like a missing one."""

    def __init__(self, **kwargs):
        super().__init__(pk_field=serializers.IntegerField(min_value=1), **kwargs)

    def get_queryset(self):
        return selectors.customers_for(api_actor(self.context["request"]))


class SubaccountSerializer(ModelSerializer):
    customer = OwnCustomerField()
    vendor = serializers.ChoiceField(choices=Vendor.choices)
    name = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=100,
        help_text="Leave out to use the partner's naming convention.",
    )
    has_api_key = serializers.SerializerMethodField()
    # Progress of the create operation (partner.handlers.CreateSubaccount), annotated by
    # selectors.with_provisioning.
    attempts = serializers.SerializerMethodField()
    next_attempt_at = UtcDateTimeField(source="provisioning_next_attempt_at", read_only=True, allow_null=True)
    last_error = serializers.SerializerMethodField()

    class Meta:
        model = Subaccount
        fields = [
            "id",
            "reference",
            "partner",
            "customer",
            "vendor",
            "name",
            "state",
            "vendor_id",
            "has_api_key",
            "attempts",
            "next_attempt_at",
            "last_error",
            "created_at",
            "activated_at",
            "updated_at",
        ]
        read_only_fields = [f for f in fields if f not in ("customer", "vendor", "name")]
        validators = []

    def get_has_api_key(self, obj) -> bool:
        return bool(obj.api_key)

    def get_attempts(self, obj) -> int:
        return obj.provisioning_attempts or 0

    def get_last_error(self, obj) -> dict | None:
        if not obj.provisioning_error_code:
            return None
        return {
            "code": obj.provisioning_error_code,
            "message": obj.provisioning_error_message,
            "at": obj.provisioning_error_at,
        }


# --- Filters -------------------------------------------------------------------------------


class CustomerFilter(IdFilterSet):
    class Meta:
        model = Customer
        fields = ["partner", "country"]


class SubaccountFilter(IdFilterSet):
    state = filters.MultipleChoiceFilter(choices=SubaccountState.choices)
    vendor = filters.ChoiceFilter(choices=Vendor.choices)

    class Meta:
        model = Subaccount
        fields = ["state", "vendor", "customer"]


# --- Views ---------------------------------------------------------------------------------


class PartnerViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """The partner profile and its onboarding checklist (a member sees only their own)."""

    serializer_class = PartnerSerializer
    permission_classes = [IsMemberOrStaff]
    http_method_names = ["get", "patch", "head", "options"]
    ordering_fields = ["name", "created_at"]
    search_fields = ["name", "legal_name", "^slug"]

    def get_queryset(self):
        from django.db.models import Count

        return (
            selectors.partners_for(api_actor(self.request))
            .annotate(n_customers=Count("customers"))
            .order_by("name", "pk")
        )

    def perform_update(self, serializer):
        changes = {k: v for k, v in serializer.validated_data.items() if k in services.PARTNER_PROFILE_FIELDS}
        serializer.instance = services.update_partner_profile(
            api_actor(self.request), serializer.instance, **changes
        )


class CustomerViewSet(viewsets.ModelViewSet):
    """A partner's customers."""

    serializer_class = CustomerSerializer
    permission_classes = [IsMemberOrStaff]
    filterset_class = CustomerFilter
    search_fields = ["name", "^reference", "contact_email", "contact_name"]
    ordering_fields = ["name", "reference", "created_at"]
    ordering = ["name"]

    def get_queryset(self):
        qs = selectors.customers_for(api_actor(self.request))
        # The list shows the partner's id only (from the row itself): no join, no partner per row.
        return qs.select_related(None) if self.action == "list" else qs

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        partner = _partner_for_write(self.request, data.pop("partner", None))
        serializer.instance = services.create_customer(api_actor(self.request), partner, **data)

    def perform_update(self, serializer):
        data = dict(serializer.validated_data)
        data.pop("partner", None)
        serializer.instance = services.update_customer(api_actor(self.request), serializer.instance, **data)

    def perform_destroy(self, instance):
        services.delete_customer(api_actor(self.request), instance)


@extend_schema_view(create=extend_schema(responses={202: SubaccountSerializer}))
class SubaccountViewSet(
    mixins.CreateModelMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Vendor subaccounts: created in the background (202), then `active` or `failed`."""

    serializer_class = SubaccountSerializer
    permission_classes = [IsMemberOrStaff]
    filterset_class = SubaccountFilter
    search_fields = ["name", "^vendor_id", "customer__name"]
    ordering_fields = ["created_at", "name", "state"]
    ordering = ["-created_at"]

    def get_queryset(self):
        return selectors.with_provisioning(selectors.subaccounts_for(api_actor(self.request)))

    def _answer(self, subaccount) -> Response:
        """202 with the subaccount as the list shows it (its create operation's progress)."""
        return Response(
            self.get_serializer(self.get_queryset().get(pk=subaccount.pk)).data,
            status=status.HTTP_202_ACCEPTED,
        )

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        actor = api_actor(request)
        customer = selectors.get_or_404(
            selectors.customers_for(actor), pk=serializer.validated_data["customer"].pk
        )
        subaccount = services.request_subaccount(
            actor,
            customer,
            serializer.validated_data["vendor"],
            serializer.validated_data.get("name", ""),
        )
        return self._answer(subaccount)

    @extend_schema(request=None, responses={202: SubaccountSerializer})
    @action(detail=True, methods=["post"])
    def retry(self, request, pk=None):
        """Retry a failed subaccount; the vendor is asked first whether it already exists."""
        return self._answer(services.retry_subaccount(api_actor(request), self.get_object()))


def _partner_for_write(request, requested: Partner | None) -> Partner:
    """Members write to their own partner; staff must say which partner."""
    actor = api_actor(request)
    membership = getattr(request.user, "membership", None) if not request.user.is_staff else None
    if membership is not None:
        return membership.partner
    if requested is None:
        raise ValidationFailed("Staff must name the partner.", fields={"partner": "This field is required."})
    return selectors.get_or_404(selectors.partners_for(actor), pk=requested.pk)
