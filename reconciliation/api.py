"""REST API over the reconciliation: findings (list, detail, the actions), runs (list, POST to run
now, 202) and not-billed marks. Scoped to the token's partner: another partner's rows are 404."""

from __future__ import annotations

from django.contrib.contenttypes.models import ContentType
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from billing import selectors as billing_selectors
from core.api.base import IsMemberOrStaff, api_actor
from core.api.fields import ModelSerializer
from core.errors import ValidationFailed
from partner import selectors as partner_selectors
from reconciliation import actions, selectors, services
from reconciliation.models import Finding, NotBilled, Run
from subscriptions.acme import selectors as acme_selectors
from subscriptions.cloudflare import selectors as cloudflare_selectors

TARGET_TYPES = {
    "acmecontract": "acme_contract",
    "cloudflarezone": "cloudflare_zone",
    "cloudflareaddon": "cloudflare_addon",
    "subaccount": "subaccount",
}


def _target_type(content_type: ContentType | None) -> str:
    return TARGET_TYPES.get(content_type.model, content_type.model) if content_type else ""


class FindingActionOptionSerializer(serializers.Serializer):
    action = serializers.CharField()
    label = serializers.CharField()
    applies = serializers.BooleanField()
    refusal = serializers.CharField(allow_null=True, help_text="Why it does not apply today.")


class FindingSerializer(ModelSerializer):
    target_type = serializers.SerializerMethodField(
        help_text="acme_contract, cloudflare_zone, cloudflare_addon or subaccount (empty: none)."
    )
    resolved_by = serializers.SerializerMethodField()
    actions = serializers.SerializerMethodField(help_text="Each action and whether it applies.")
    subscription_id = serializers.SerializerMethodField(
        help_text="The billing subscription's id at Digital River."
    )

    class Meta:
        model = Finding
        fields = [
            "id",
            "kind",
            "rule",
            "state",
            "customer",
            "subscription",
            "subscription_id",
            "target_type",
            "target_id",
            "vendor_ref",
            "summary",
            "evidence",
            "first_seen_at",
            "last_seen_at",
            "times_seen",
            "resolution",
            "resolution_note",
            "resolved_by",
            "resolved_at",
            "actions",
        ]
        read_only_fields = fields

    def get_target_type(self, obj) -> str:
        return _target_type(obj.target_type)

    def get_resolved_by(self, obj) -> str:
        return obj.resolved_by.get_username() if obj.resolved_by_id else ""

    def get_subscription_id(self, obj) -> str:
        return obj.subscription.subscription_id if obj.subscription_id else ""

    @extend_schema_field(FindingActionOptionSerializer(many=True))
    def get_actions(self, obj) -> list[dict]:
        return [
            {
                "action": a["action"],
                "label": a["label"],
                "applies": a["refusal"] is None,
                "refusal": a["refusal"],
            }
            for a in actions.available_actions(obj)
        ]


class FindingActionSerializer(serializers.Serializer):
    reason = serializers.CharField(
        required=False, allow_blank=True, default="", help_text="Required to dismiss or mark not billed."
    )
    product = serializers.IntegerField(
        required=False,
        allow_null=True,
        help_text="Bill it: the product to sell (default: the closest match).",
    )


class ReconciliationRunSerializer(ModelSerializer):
    requested_by = serializers.SerializerMethodField()

    class Meta:
        model = Run
        fields = ["id", *Run.SHOWN_FIELDS, "errors"]
        read_only_fields = fields

    def get_requested_by(self, obj) -> str:
        return obj.requested_by.get_username() if obj.requested_by_id else ""


class StartReconciliationSerializer(serializers.Serializer):
    partner = serializers.IntegerField(required=False, help_text="Staff only: the partner to reconcile.")


class NotBilledSerializer(ModelSerializer):
    target_type = serializers.SerializerMethodField()
    marked_by = serializers.SerializerMethodField()
    live = serializers.BooleanField(read_only=True)

    class Meta:
        model = NotBilled
        fields = [
            "id",
            "customer",
            "target_type",
            "target_id",
            "reason",
            "marked_by",
            "marked_at",
            "unmarked_at",
            "live",
        ]
        read_only_fields = fields

    def get_target_type(self, obj) -> str:
        return _target_type(obj.target_type)

    def get_marked_by(self, obj) -> str:
        return obj.marked_by.get_username() if obj.marked_by_id else ""


class NotBilledMarkSerializer(serializers.Serializer):
    target_type = serializers.ChoiceField(choices=["acme_contract", "cloudflare_zone", "cloudflare_addon"])
    target_id = serializers.IntegerField()
    reason = serializers.CharField(allow_blank=True, help_text="Why it is not billed (required).")


class FindingViewSet(viewsets.ReadOnlyModelViewSet):
    """Differences the reconciliation found between billing and the vendors, with their evidence."""

    serializer_class = FindingSerializer
    permission_classes = [IsMemberOrStaff]
    filterset_fields = ["kind", "state", "customer", "rule", "resolution"]
    search_fields = ["summary", "^vendor_ref"]
    ordering_fields = ["last_seen_at", "first_seen_at"]
    ordering = ["-last_seen_at", "-id"]

    def get_queryset(self):
        return selectors.findings_for(api_actor(self.request))

    def _act(self, request, name: str, accepted: bool):
        data = FindingActionSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        actor = api_actor(request)
        finding = self.get_object()
        product = None
        if data.validated_data.get("product"):
            product = partner_selectors.get_or_404(
                billing_selectors.products_for(actor), pk=data.validated_data["product"]
            )
        finding = actions.perform_action(
            actor, finding, name, reason=data.validated_data.get("reason", ""), product=product
        )
        finding = self.get_queryset().get(pk=finding.pk)
        return Response(
            FindingSerializer(finding).data,
            status=status.HTTP_202_ACCEPTED if accepted else status.HTTP_200_OK,
        )

    @extend_schema(request=None, responses={202: FindingSerializer})
    @action(detail=True, methods=["post"], url_path="adopt-vendor")
    def adopt_vendor(self, request, pk=None):
        """Adopt the vendor's state (the object's sync service); the billing right (202)."""
        return self._act(request, actions.ADOPT_VENDOR, True)

    @extend_schema(request=None, responses={202: FindingSerializer})
    @action(detail=True, methods=["post"], url_path="push-ours")
    def push_ours(self, request, pk=None):
        """Push ours: the vendor side follows billing (the service that changes it); 202."""
        return self._act(request, actions.PUSH_OURS, True)

    @extend_schema(request=None, responses={202: FindingSerializer})
    @action(detail=True, methods=["post"], url_path="end-billing")
    def end_billing(self, request, pk=None):
        """End billing: the billing subscription stops renewing (no further charge); 202."""
        return self._act(request, actions.END_BILLING, True)

    @extend_schema(request=FindingActionSerializer, responses={202: FindingSerializer})
    @action(detail=True, methods=["post"])
    def bill(self, request, pk=None):
        """Bill it: an acquisition checkout for a product that provisions the service; 202."""
        return self._act(request, actions.BILL, True)

    @extend_schema(request=FindingActionSerializer, responses={200: FindingSerializer})
    @action(detail=True, methods=["post"], url_path="mark-not-billed")
    def mark_not_billed(self, request, pk=None):
        """Mark the service not billed, with a reason (required)."""
        return self._act(request, actions.MARK_NOT_BILLED, False)

    @extend_schema(request=FindingActionSerializer, responses={200: FindingSerializer})
    @action(detail=True, methods=["post"])
    def dismiss(self, request, pk=None):
        """Dismiss the finding, with a reason (required); a later run leaves it dismissed."""
        return self._act(request, actions.DISMISS, False)


class RunViewSet(mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Reconciliation runs: when, what was read, what was found, which vendor reads failed."""

    serializer_class = ReconciliationRunSerializer
    permission_classes = [IsMemberOrStaff]
    filterset_fields = ["state"]
    ordering = ["-created_at", "-id"]

    def get_queryset(self):
        return selectors.runs_for(api_actor(self.request))

    @extend_schema(request=StartReconciliationSerializer, responses={202: ReconciliationRunSerializer})
    def create(self, request, *args, **kwargs):
        """Reconcile now (read-only at every vendor); the findings follow when the run finishes (202)."""
        data = StartReconciliationSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        actor = api_actor(request)
        membership = getattr(request.user, "membership", None)
        partner_id = membership.partner_id if membership else data.validated_data.get("partner")
        if not partner_id:
            raise ValidationFailed("Staff must name the partner.", fields={"partner": "Required."})
        partner = partner_selectors.get_or_404(partner_selectors.partners_for(actor), pk=partner_id)
        run = services.request_run(actor, partner)
        run.refresh_from_db()
        return Response(ReconciliationRunSerializer(run).data, status=status.HTTP_202_ACCEPTED)


class NotBilledViewSet(mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Paid vendor services marked as deliberately not billed, with the reason."""

    serializer_class = NotBilledSerializer
    permission_classes = [IsMemberOrStaff]
    filterset_fields = ["customer"]
    ordering = ["-marked_at", "-id"]

    def get_queryset(self):
        return selectors.marks_for(api_actor(self.request))

    @extend_schema(request=NotBilledMarkSerializer, responses={201: NotBilledSerializer})
    def create(self, request, *args, **kwargs):
        """Mark an ACME contract, zone or add-on as not billed, with a reason; the billing right."""
        data = NotBilledMarkSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        actor = api_actor(request)
        scoped = {
            "acme_contract": acme_selectors.acme_contracts_for,
            "cloudflare_zone": cloudflare_selectors.cloudflare_zones_for,
            "cloudflare_addon": cloudflare_selectors.cloudflare_addons_for,
        }[data.validated_data["target_type"]]
        target = partner_selectors.get_or_404(scoped(actor), pk=data.validated_data["target_id"])
        mark = services.mark_not_billed(actor, target, data.validated_data["reason"])
        return Response(NotBilledSerializer(mark).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={200: NotBilledSerializer})
    @action(detail=True, methods=["post"])
    def unmark(self, request, pk=None):
        """Take the mark back: the next run reports the service again if nothing bills it."""
        mark = services.unmark(api_actor(request), self.get_object())
        return Response(NotBilledSerializer(mark).data)
