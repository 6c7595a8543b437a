"""REST API over Cloudflare zones, add-ons and each partner's catalog.

Vendor-backed operations answer 202 with the object as it is now (what Cloudflare confirmed) plus
`pending_change` and `last_operation`; every change has a preview endpoint that prices it first.
"""

from __future__ import annotations

from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema, extend_schema_field, extend_schema_view, inline_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from core.api.base import IsMemberOrStaff, api_actor
from core.api.fields import ModelSerializer, OptionalChoiceField, UtcDateTimeField
from core.api.operations import OperationSerializer
from partner import selectors as partner_selectors
from partner.models import Vendor
from subscriptions import selectors
from subscriptions.acme.api import OperationsViewMixin, accepted, latest_operation, not_billed_reason_field
from subscriptions.cloudflare import selectors as cloudflare_selectors
from subscriptions.cloudflare import services as cloudflare
from subscriptions.cloudflare.models import (
    FREE_ZONE_PLAN,
    AddonState,
    CatalogComponent,
    CatalogPlan,
    CloudflareAddon,
    CloudflareZone,
    Frequency,
    PlanScope,
    VendorState,
    ZoneState,
)

# --- Answers ------------------------------------------------------------------------------------


class PriceSerializer(serializers.Serializer):
    amount = serializers.DecimalField(max_digits=12, decimal_places=2)
    currency = serializers.CharField()
    frequency = serializers.ChoiceField(choices=Frequency.choices)


class PreviewSerializer(serializers.Serializer):
    """A change checked against the catalog, priced per period before and after."""

    action = serializers.CharField()
    rate_plan_id = serializers.CharField()
    frequency = serializers.CharField()
    component_values = serializers.DictField(
        child=serializers.IntegerField(), allow_null=True, help_text="What is sent; null: the defaults."
    )
    from_rate_plan_id = serializers.CharField()
    from_frequency = serializers.CharField()
    current = PriceSerializer(allow_null=True, help_text="Price per period now (null: nothing yet).")
    new = PriceSerializer(allow_null=True, help_text="Price per period after the change (null: ended).")
    monthly_difference = serializers.DecimalField(
        max_digits=12, decimal_places=2, allow_null=True, help_text="New minus current, per month."
    )
    needs_not_billed_reason = serializers.BooleanField(
        help_text="Made directly, the change needs `not_billed_reason` (it costs more and nothing bills it)."
    )
    takes_effect = serializers.CharField(
        help_text="For a zone or add-on that billing provides: when the change takes effect (empty otherwise)."
    )


class RefusalSerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()
    at = UtcDateTimeField()


class PendingChangeSerializer(serializers.Serializer):
    action = serializers.CharField()
    rate_plan_id = serializers.CharField()
    frequency = serializers.CharField()
    component_values = serializers.DictField(child=serializers.IntegerField(), allow_null=True)
    preview = inline_serializer(
        "PendingPreview",
        {"current": PriceSerializer(allow_null=True), "new": PriceSerializer(allow_null=True)},
    )


class PlanRecordSerializer(ModelSerializer):
    """Fields every Cloudflare subscription record shows: Cloudflare's view, the refusal, what is in flight."""

    customer = serializers.PrimaryKeyRelatedField(read_only=True)
    refusal = serializers.SerializerMethodField(help_text="Why the last requested change did not happen.")
    pending_change = serializers.SerializerMethodField(
        help_text="The change waiting for Cloudflare's confirmation, with its price preview."
    )
    last_operation = serializers.SerializerMethodField()
    frequency = OptionalChoiceField(Frequency.choices, help_text="null while the record has no subscription.")
    vendor_state = OptionalChoiceField(
        VendorState.choices, help_text="Cloudflare's state; null before its answer."
    )

    COMMON = [
        "id",
        "reference",
        "customer",
        "subaccount",
        "state",
        "vendor_id",
        "rate_plan_id",
        "frequency",
        "component_values",
        "price",
        "currency",
        "vendor_state",
        "current_period_start",
        "current_period_end",
        "refusal",
        "pending_change",
        "last_operation",
        "synced_at",
        "created_at",
        "updated_at",
    ]

    @extend_schema_field(RefusalSerializer(allow_null=True))
    def get_refusal(self, obj):
        if not obj.refusal_code:
            return None
        return {"code": obj.refusal_code, "message": obj.refusal_message, "at": obj.refused_at}

    @extend_schema_field(PendingChangeSerializer(allow_null=True))
    def get_pending_change(self, obj):
        return cloudflare.pending_change(latest_operation(self, obj))

    @extend_schema_field(OperationSerializer(allow_null=True))
    def get_last_operation(self, obj):
        operation = latest_operation(self, obj)
        return OperationSerializer(operation).data if operation else None


class CloudflareZoneSerializer(PlanRecordSerializer):
    class Meta:
        model = CloudflareZone
        fields = [*PlanRecordSerializer.COMMON, "name", "zone_status", "subscription_id"]
        read_only_fields = fields


class CloudflareAddonSerializer(PlanRecordSerializer):
    class Meta:
        model = CloudflareAddon
        fields = [*PlanRecordSerializer.COMMON, "cancelled_at"]
        read_only_fields = fields


class CatalogComponentSerializer(ModelSerializer):
    class Meta:
        model = CatalogComponent
        fields = ["name", "default", "maximum", "unit_price"]
        read_only_fields = fields


class CatalogPlanSerializer(ModelSerializer):
    components = CatalogComponentSerializer(many=True, read_only=True)
    frequencies = serializers.ListField(
        child=serializers.CharField(), help_text=f"Any of {', '.join(Frequency.values)}."
    )

    class Meta:
        model = CatalogPlan
        fields = [
            "id",
            "partner",
            "rate_plan_id",
            "name",
            "scope",
            "monthly_price",
            "currency",
            "frequencies",
            "active",
            "components",
        ]
        read_only_fields = fields


# --- Requests -----------------------------------------------------------------------------------


def _components_field():
    return serializers.DictField(
        child=serializers.IntegerField(min_value=0),
        required=False,
        allow_null=True,
        help_text='Units per component, e.g. {"page_rules": 50}; left out: the plan\'s defaults.',
    )


def _frequency_field():
    return serializers.ChoiceField(
        choices=Frequency.choices,
        required=False,
        allow_null=True,
        help_text="Left out: monthly, or the current one.",
    )


class AddZoneSerializer(serializers.Serializer):
    customer = serializers.IntegerField()
    name = serializers.CharField(max_length=253)


class PlanRequestSerializer(serializers.Serializer):
    rate_plan_id = serializers.CharField(max_length=64)
    frequency = _frequency_field()
    component_values = _components_field()


class UpgradeSerializer(PlanRequestSerializer):
    not_billed_reason = not_billed_reason_field()


class DowngradeSerializer(PlanRequestSerializer):
    rate_plan_id = serializers.CharField(max_length=64, default=FREE_ZONE_PLAN)


class ComponentsRequestSerializer(serializers.Serializer):
    frequency = _frequency_field()
    component_values = _components_field()


class ComponentsSerializer(ComponentsRequestSerializer):
    not_billed_reason = not_billed_reason_field()


class ZonePreviewSerializer(ComponentsRequestSerializer):
    action = serializers.ChoiceField(choices=cloudflare.ZONE_ACTIONS)
    rate_plan_id = serializers.CharField(max_length=64, required=False, allow_null=True)


class AddonPurchasePreviewSerializer(PlanRequestSerializer):
    customer = serializers.IntegerField()


class AddonPurchaseSerializer(AddonPurchasePreviewSerializer):
    not_billed_reason = not_billed_reason_field()


class AddonPreviewSerializer(ComponentsRequestSerializer):
    action = serializers.ChoiceField(choices=cloudflare.ADDON_ACTIONS)


class AccountSyncSerializer(serializers.Serializer):
    customer = serializers.IntegerField()


def _valid(serializer_class, request) -> dict:
    data = serializer_class(data=request.data)
    data.is_valid(raise_exception=True)
    return data.validated_data


def _customer(request, pk: int):
    return partner_selectors.get_or_404(partner_selectors.customers_for(api_actor(request)), pk=pk)


def _preview(planned) -> Response:
    return Response(PreviewSerializer(planned).data)


# --- Views --------------------------------------------------------------------------------------


class CloudflareZoneFilter(filters.FilterSet):
    state = filters.MultipleChoiceFilter(choices=ZoneState.choices)
    vendor_state = filters.MultipleChoiceFilter(choices=VendorState.choices)

    class Meta:
        model = CloudflareZone
        fields = ["state", "vendor_state", "customer", "rate_plan_id", "frequency"]


class CloudflareSubscriptionViewSet(
    OperationsViewMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """What a zone's and an add-on's endpoints share: preview a change, change components, retry,
    operations. A subclass names its services and serializers; `shared_actions` documents them."""

    permission_classes = [IsMemberOrStaff]
    ordering = ["-created_at"]
    lookup_value_regex = r"\d+"
    operation_columns = (*OperationsViewMixin.operation_columns, "params")  # `pending_change` reads them
    preview_serializer: type[serializers.Serializer]
    preview_change = None  # the service pricing a change of one object: (actor, obj, **data)
    change_components_of = None  # the service changing its components: (actor, obj, **data)

    @action(detail=True, methods=["post"])
    def preview(self, request, pk=None):
        data = _valid(self.preview_serializer, request)
        return _preview(self.preview_change(api_actor(request), self.get_object(), **data))

    @action(detail=True, methods=["post"], url_path="change-components")
    def change_components(self, request, pk=None):
        return self._do(self.change_components_of, **_valid(ComponentsSerializer, request))

    @action(detail=True, methods=["post"])
    def retry(self, request, pk=None):
        return self._do(cloudflare.retry_failed_operation)

    @action(detail=True, methods=["get"])
    def operations(self, request, pk=None):
        return self._operations(request)


def shared_actions(serializer, noun: str, preview_request, *, preview: str, change_components: str):
    """The schema of a CloudflareSubscriptionViewSet's shared actions, for the zone or the add-on."""
    return extend_schema_view(
        preview=extend_schema(
            request=preview_request, responses={200: PreviewSerializer}, description=preview
        ),
        change_components=extend_schema(
            request=ComponentsSerializer, responses={202: serializer}, description=change_components
        ),
        retry=extend_schema(
            request=None,
            responses={202: serializer},
            description=f"Retry the {noun}'s last failed operation.",
        ),
        operations=extend_schema(
            responses={200: OperationSerializer(many=True)},
            description=f"The {noun}'s vendor operations, newest first.",
        ),
    )


@shared_actions(
    CloudflareZoneSerializer,
    "zone",
    ZonePreviewSerializer,
    preview="Price an upgrade, component change or downgrade per period, before and after; checked like "
    "the change.",
    change_components="New component values or frequency on the zone's plan.",
)
class CloudflareZoneViewSet(CloudflareSubscriptionViewSet):
    """Your customers' Cloudflare zones and their zone plans (zone subscriptions)."""

    serializer_class = CloudflareZoneSerializer
    filterset_class = CloudflareZoneFilter
    search_fields = ["name", "^vendor_id", "customer__name"]
    ordering_fields = ["created_at", "name", "rate_plan_id", "current_period_end"]
    preview_serializer = ZonePreviewSerializer
    preview_change = staticmethod(cloudflare.preview_zone_change)
    change_components_of = staticmethod(cloudflare.change_zone_components)

    def get_queryset(self):
        return cloudflare_selectors.cloudflare_zones_for(api_actor(self.request))

    @extend_schema(request=AddZoneSerializer, responses={202: CloudflareZoneSerializer})
    def create(self, request):
        """Add a zone to the customer's Cloudflare account; it starts on PARTNERS_FREE (`pending`, then `active`)."""
        data = _valid(AddZoneSerializer, request)
        zone = cloudflare.add_zone(
            api_actor(request), _customer(request, data["customer"]), name=data["name"]
        )
        return accepted(self, zone)

    @extend_schema(request=UpgradeSerializer, responses={202: CloudflareZoneSerializer})
    @action(detail=True, methods=["post"])
    def upgrade(self, request, pk=None):
        """Upgrade to a catalog zone plan (409 `plan_not_in_catalog`, `component_not_allowed`... before any call)."""
        return self._do(cloudflare.upgrade_zone_plan, **_valid(UpgradeSerializer, request))

    @extend_schema(request=DowngradeSerializer, responses={202: CloudflareZoneSerializer})
    @action(detail=True, methods=["post"])
    def downgrade(self, request, pk=None):
        """Downgrade to a cheaper catalog zone plan (PARTNERS_FREE when left out)."""
        return self._do(cloudflare.downgrade_zone_plan, **_valid(DowngradeSerializer, request))

    @extend_schema(request=None, responses={202: CloudflareZoneSerializer})
    @action(detail=True, methods=["post"])
    def sync(self, request, pk=None):
        """Read the zone and its subscription at Cloudflare and take Cloudflare's view."""
        return self._do(cloudflare.sync_zone)


class CloudflareAddonFilter(filters.FilterSet):
    state = filters.MultipleChoiceFilter(choices=AddonState.choices)
    vendor_state = filters.MultipleChoiceFilter(choices=VendorState.choices)

    class Meta:
        model = CloudflareAddon
        fields = ["state", "vendor_state", "customer", "rate_plan_id", "frequency"]


@shared_actions(
    CloudflareAddonSerializer,
    "add-on",
    AddonPreviewSerializer,
    preview="Price a change or the cancellation of the add-on per period, before and after.",
    change_components="New component values or frequency for the add-on.",
)
class CloudflareAddonViewSet(CloudflareSubscriptionViewSet):
    """Your customers' Cloudflare account add-ons (account subscriptions)."""

    serializer_class = CloudflareAddonSerializer
    filterset_class = CloudflareAddonFilter
    search_fields = ["^rate_plan_id", "^vendor_id", "customer__name"]
    ordering_fields = ["created_at", "rate_plan_id", "current_period_end"]
    preview_serializer = AddonPreviewSerializer
    preview_change = staticmethod(cloudflare.preview_addon_change)
    change_components_of = staticmethod(cloudflare.change_addon)

    def get_queryset(self):
        return cloudflare_selectors.cloudflare_addons_for(api_actor(self.request))

    @extend_schema(request=AddonPurchaseSerializer, responses={202: CloudflareAddonSerializer})
    def create(self, request):
        """Buy a catalog add-on; components left out take the add-on's defaults (`pending`, then `active`)."""
        data = _valid(AddonPurchaseSerializer, request)
        customer = _customer(request, data.pop("customer"))
        return accepted(self, cloudflare.add_addon(api_actor(request), customer, **data))

    @extend_schema(
        request=AddonPurchasePreviewSerializer,
        responses={200: PreviewSerializer},
        operation_id="v1_cloudflare_addons_purchase_preview",
    )
    @action(detail=False, methods=["post"], url_path="preview", url_name="purchase-preview")
    def purchase_preview(self, request):
        """Price a new add-on per period; checked like the purchase."""
        data = _valid(AddonPurchasePreviewSerializer, request)
        customer = _customer(request, data.pop("customer"))
        return _preview(cloudflare.preview_addon_purchase(api_actor(request), customer, **data))

    @extend_schema(
        request=AccountSyncSerializer,
        responses={202: inline_serializer("AccountSync", {"last_operation": OperationSerializer()})},
        operation_id="v1_cloudflare_addons_account_sync",
    )
    @action(detail=False, methods=["post"], url_path="sync", url_name="account-sync")
    def account_sync(self, request):
        """List the customer's add-ons at Cloudflare: update ours, mark gone ones cancelled, import the others."""
        customer = _customer(request, _valid(AccountSyncSerializer, request)["customer"])
        account = partner_selectors.get_or_404(
            partner_selectors.subaccounts_for(api_actor(request)), customer=customer, vendor=Vendor.CLOUDFLARE
        )
        cloudflare.sync_addons(api_actor(request), account)
        operation = selectors.operations_of(account).first()
        return Response(
            {"last_operation": OperationSerializer(operation).data}, status=status.HTTP_202_ACCEPTED
        )

    @extend_schema(request=None, responses={202: CloudflareAddonSerializer})
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        """End the add-on at Cloudflare (`cancel_pending`, then `cancelled`)."""
        return self._do(cloudflare.cancel_addon)

    @extend_schema(request=None, responses={202: CloudflareAddonSerializer})
    @action(detail=True, methods=["post"])
    def sync(self, request, pk=None):
        """Sync every add-on of this add-on's Cloudflare account."""
        addon = self.get_object()
        cloudflare.sync_addons(api_actor(request), addon.subaccount)
        return accepted(self, addon)


class CatalogPlanFilter(filters.FilterSet):
    scope = filters.ChoiceFilter(choices=PlanScope.choices)

    class Meta:
        model = CatalogPlan
        fields = ["scope", "partner", "active", "rate_plan_id"]


class CatalogPlanViewSet(viewsets.ReadOnlyModelViewSet):
    """What your partner may sell at Cloudflare: zone plans and add-ons, their frequencies, components and prices."""

    serializer_class = CatalogPlanSerializer
    permission_classes = [IsMemberOrStaff]
    filterset_class = CatalogPlanFilter
    ordering = ["partner", "scope", "monthly_price"]

    def get_queryset(self):
        return cloudflare_selectors.catalog_plans_for(api_actor(self.request))
