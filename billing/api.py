"""REST API over billing: plans, products, checkouts (202), subscriptions (their ending options, and
cancel with a full refund / stop renewal / resume renewal, 202), agreements, notices, and a
customer's payment-method change (202)."""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field, inline_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from billing import dashboard_selectors as reads
from billing import selectors
from billing.models import BillingAgreement, BillingSubscription, Checkout, Notice, Plan, Product
from billing.rules import Change
from billing.services import acquisition, cancellation, catalog, changes, payment_methods
from billing.services.acquisition import OrderLine
from billing.services.cancellation import CANCEL_WITH_REFUND, RESUME_RENEWAL, STOP_RENEWAL
from core import clock
from core.api.base import IsMemberOrStaff, api_actor
from core.api.fields import ModelSerializer, UtcDateTimeField
from core.api.operations import OperationSerializer
from core.errors import ValidationFailed
from partner import selectors as partner_selectors
from subscriptions.selectors import operations_of


class PlanSerializer(ModelSerializer):
    class Meta:
        model = Plan
        fields = [
            "id",
            "plan_id",
            "name",
            "terms",
            "interval",
            "interval_count",
            "contract_binding_days",
            "reminder_offset_days",
            "billing_offset_days",
            "collection_period_days",
            "state",
            "engine",
            "renewed_by",
            "at_vendor",
            "synced_at",
        ]
        # Plans are written by support staff in the admin (engine included); the API reads them.
        read_only_fields = fields

    renewed_by = serializers.SerializerMethodField(
        help_text="Who charges the renewals: Digital River's subscription service or the back office."
    )

    def get_renewed_by(self, obj) -> str:
        return reads.renewed_by(obj.engine)


class ProductSerializer(ModelSerializer):
    plan = serializers.PrimaryKeyRelatedField(queryset=Plan.objects.all(), allow_null=True, required=False)
    trial_plan = serializers.PrimaryKeyRelatedField(
        queryset=Plan.objects.all(),
        allow_null=True,
        required=False,
        help_text="A free trial's own period (a plan of the same renewal engine); the price applies after it.",
    )

    class Meta:
        model = Product
        fields = ["id", "partner", *catalog.PRODUCT_FIELDS]  # what the catalog service takes
        read_only_fields = ["id", "partner"]
        validators = []


class CheckoutItemSerializer(serializers.Serializer):
    product = serializers.IntegerField(min_value=1)
    quantity = serializers.IntegerField(min_value=1, max_value=settings.BILLING_MAX_QUANTITY, default=1)
    options = serializers.DictField(
        required=False, help_text='What to provision, e.g. {"sans": ["a.example"]}.'
    )


class StartCheckoutSerializer(serializers.Serializer):
    customer = serializers.IntegerField(min_value=1)
    items = CheckoutItemSerializer(many=True, min_length=1, max_length=settings.BILLING_MAX_ITEMS)
    auto_renewal = serializers.BooleanField(required=False, allow_null=True, default=True)


class CheckoutItemOutSerializer(serializers.Serializer):
    product = serializers.IntegerField()
    quantity = serializers.IntegerField()
    price = serializers.DecimalField(max_digits=12, decimal_places=2)
    subscription = serializers.IntegerField(allow_null=True)
    order_item_id = serializers.CharField(help_text="Digital River's item id in the order.")
    fulfilled_quantity = serializers.IntegerField(help_text="Reported delivered, so captured.")
    cancelled_quantity = serializers.IntegerField(help_text="Reported not delivered, never charged.")


class CheckoutSerializer(ModelSerializer):
    items = serializers.SerializerMethodField()
    payment_source = serializers.SerializerMethodField(
        help_text="The order's payment source, by its last characters."
    )

    class Meta:
        model = Checkout
        fields = [
            "id",
            "reference",
            "kind",
            "customer",
            "state",
            "charge_type",
            "currency",
            "total",
            "payment_link",
            "session_id",
            "checkout_id",
            "order_id",
            "order_state",
            "billing_agreement_id",
            "payment_source",
            "authorized_amount",
            "captured_amount",
            "cancelled_amount",
            "refunded_amount",
            "fulfillment_id",
            "fulfilled_at",
            "items",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    @extend_schema_field(CheckoutItemOutSerializer(many=True))
    def get_items(self, obj) -> list[dict]:
        return [
            {
                "product": i.product_id,
                "quantity": i.quantity,
                "price": str(i.price),
                "subscription": i.subscription_id,
                "order_item_id": i.order_item_id,
                "fulfilled_quantity": i.fulfilled_quantity,
                "cancelled_quantity": i.cancelled_quantity,
            }
            for i in obj.items.all()
        ]

    def get_payment_source(self, obj) -> str:
        return reads.mask_source(obj.source_id)


class EndingOptionSerializer(serializers.Serializer):
    code = serializers.ChoiceField(
        choices=[CANCEL_WITH_REFUND, STOP_RENEWAL, RESUME_RENEWAL],
        help_text="The action that applies today: POST .../cancel/, .../stop-renewal/ or .../resume-renewal/.",
    )
    until = UtcDateTimeField(allow_null=True, help_text="Until when it applies.")
    explanation = serializers.CharField(help_text="What it does, in words to show before the click.")


ErrorSerializer = inline_serializer(
    "Error",
    {
        "code": serializers.CharField(help_text="A stable snake_case code."),
        "message": serializers.CharField(),
        "fields": serializers.DictField(child=serializers.ListField(child=serializers.CharField())),
    },
)


class SubscriptionDowngradeSerializer(serializers.Serializer):
    product = serializers.IntegerField(
        help_text="A cheaper product of the same plan, providing the same kind of service."
    )


ENDING_ERRORS = {
    403: OpenApiResponse(
        ErrorSerializer, description="`permission_denied`: your role lacks the billing right."
    ),
    404: OpenApiResponse(
        ErrorSerializer, description="`not_found`: not one of your customers' subscriptions."
    ),
    409: OpenApiResponse(
        ErrorSerializer,
        description="A rule refuses it today, nothing changed: `cancel_window_closed` (DigiCert's 30 days "
        "are over: stop renewal instead; the message says until when it runs), `not_live` (the "
        "subscription has ended), `not_available_today` (the message says what applies), "
        "`operation_in_progress`, `no_downgrade_scheduled`.",
    ),
}


class SubscriptionSerializer(ModelSerializer):
    ending_options = serializers.SerializerMethodField(
        help_text="Which of cancel with a full refund / stop renewal / resume renewal applies today, "
        "and until when."
    )
    engine = serializers.CharField(
        source="plan.engine", read_only=True, help_text="The plan's renewal engine."
    )
    renewed_by = serializers.SerializerMethodField(
        help_text="Who charges the renewals: Digital River's subscription service or the back office."
    )
    payment_source = serializers.SerializerMethodField(
        help_text="The card renewals are charged to, by the last characters of its source id."
    )

    class Meta:
        model = BillingSubscription
        fields = [
            "id",
            "subscription_id",
            "customer",
            "product",
            "plan",
            "quantity",
            "price",
            "state",
            "engine",
            "renewed_by",
            "auto_renewal",
            "free_trial",
            "billing_agreement_id",
            "payment_source",
            "contract_binding_until",
            "next_reminder_date",
            "current_period_end_date",
            "next_invoice_date",
            "activated_at",
            "payment_failed_at",
            "ended_at",
            "provisioning_state",
            "provisioning_error",
            "provisioning_attempts",
            "provisioned_id",
            "ends_at_period_end",
            "scheduled_change",
            "ending_options",
            "created_at",
        ]
        read_only_fields = fields

    @extend_schema_field(EndingOptionSerializer(many=True))
    def get_ending_options(self, obj):
        if "now" not in self.context:  # one clock read per answer, not per row
            self.context["now"] = clock.now()
        return EndingOptionSerializer(cancellation.ending_options(obj, self.context["now"]), many=True).data

    def get_renewed_by(self, obj) -> str:
        return reads.renewed_by(obj.plan.engine)

    def get_payment_source(self, obj) -> str:
        return reads.mask_source(obj.payment_source_id)


class AgreementSerializer(ModelSerializer):
    class Meta:
        model = BillingAgreement
        fields = ["id", "agreement_id", "customer", "first_order_id", "created_at", "superseded_at"]


class NoticeSerializer(ModelSerializer):
    class Meta:
        model = Notice
        fields = [
            "id",
            "subscription",
            "kind",
            "renewal_date",
            "to",
            "subject",
            "sent_at",
            "delivered",
            "error",
            "details",
        ]
        read_only_fields = fields


class PlanViewSet(viewsets.ReadOnlyModelViewSet):
    """Digital River plans (terms, cycle, offsets); managed by support staff."""

    serializer_class = PlanSerializer
    permission_classes = [IsMemberOrStaff]
    filterset_fields = ["state", "interval", "engine"]
    ordering = ["name"]

    def get_queryset(self):
        return selectors.plans_for(api_actor(self.request))


class ProductViewSet(mixins.CreateModelMixin, mixins.UpdateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Your sellable products and what each provisions."""

    serializer_class = ProductSerializer
    permission_classes = [IsMemberOrStaff]
    filterset_fields = ["provisions", "active", "currency"]
    search_fields = ["name", "^sku_id"]
    ordering = ["name"]
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_queryset(self):
        return selectors.products_for(api_actor(self.request))

    def perform_create(self, serializer):
        actor = api_actor(self.request)
        membership = getattr(self.request.user, "membership", None)
        partner_id = membership.partner_id if membership else self.request.data.get("partner")
        if not partner_id:
            raise ValidationFailed("Staff must name the partner.", fields={"partner": "Required."})
        partner = partner_selectors.get_or_404(partner_selectors.partners_for(actor), pk=partner_id)
        serializer.instance = catalog.create_product(actor, partner, **serializer.validated_data)

    def perform_update(self, serializer):
        serializer.instance = catalog.update_product(
            api_actor(self.request), serializer.instance, **serializer.validated_data
        )


class CheckoutViewSet(mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Digital River checkouts: acquisitions you start (202, then a payment link) and renewals."""

    serializer_class = CheckoutSerializer
    permission_classes = [IsMemberOrStaff]
    filterset_fields = ["kind", "state", "customer"]
    ordering = ["-created_at"]

    def get_queryset(self):
        return selectors.checkouts_for(api_actor(self.request)).prefetch_related("items")

    @extend_schema(request=StartCheckoutSerializer, responses={202: CheckoutSerializer})
    def create(self, request, *args, **kwargs):
        """Start an acquisition checkout for a customer; `payment_link` appears once it is open."""
        data = StartCheckoutSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        actor = api_actor(request)
        customer = partner_selectors.get_or_404(
            partner_selectors.customers_for(actor), pk=data.validated_data["customer"]
        )
        products = {p.pk: p for p in selectors.products_for(actor)}
        lines = []
        for i, item in enumerate(data.validated_data["items"]):
            if item["product"] not in products:
                raise ValidationFailed(
                    "Unknown product.", fields={f"items[{i}].product": "Not one of your products."}
                )
            lines.append(OrderLine(products[item["product"]], item["quantity"], item.get("options")))
        checkout = acquisition.start_checkout(
            actor, customer, lines, auto_renewal=data.validated_data["auto_renewal"]
        )
        checkout.refresh_from_db()
        return Response(CheckoutSerializer(checkout).data, status=status.HTTP_202_ACCEPTED)


class ChangeSerializer(serializers.Serializer):
    change = serializers.ChoiceField(choices=Change.choices)
    product = serializers.IntegerField(required=False)
    quantity = serializers.IntegerField(required=False, min_value=1)


class ChangeOutcomeSerializer(serializers.Serializer):
    agreement = serializers.ChoiceField(choices=["same", "new"])
    checkout = CheckoutSerializer(allow_null=True)
    subscription = serializers.IntegerField()


class SubscriptionViewSet(viewsets.ReadOnlyModelViewSet):
    """Billing subscriptions with their dates, agreement and provisioning state."""

    @extend_schema(
        request=ChangeSerializer, responses={200: ChangeOutcomeSerializer, 202: ChangeOutcomeSerializer}
    )
    @action(detail=True, methods=["post"])
    def change(self, request, pk=None):
        """Change a subscription: within its terms the agreement stays (200 with `same`); outside them a new
        customer-initiated checkout collects a new agreement (202 with `new` and the checkout)."""
        data = ChangeSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        actor = api_actor(request)
        product = None
        if "product" in data.validated_data:
            product = partner_selectors.get_or_404(
                selectors.products_for(actor), pk=data.validated_data["product"]
            )
        outcome = changes.change_subscription(
            actor,
            self.get_object(),
            data.validated_data["change"],
            product=product,
            quantity=data.validated_data.get("quantity"),
        )
        body = {
            "agreement": outcome.agreement,
            "subscription": outcome.subscription.pk,
            "checkout": CheckoutSerializer(outcome.checkout).data if outcome.checkout else None,
        }
        return Response(body, status=status.HTTP_202_ACCEPTED if outcome.checkout else status.HTTP_200_OK)

    serializer_class = SubscriptionSerializer
    permission_classes = [IsMemberOrStaff]
    filterset_fields = {
        "state": ["exact"],
        "customer": ["exact"],
        "product": ["exact"],
        "provisioning_state": ["exact"],
        "auto_renewal": ["exact"],
        "plan__engine": ["exact"],
    }
    ordering_fields = ["current_period_end_date", "created_at"]
    ordering = ["-created_at"]

    def get_queryset(self):
        # What each one provides (an ACME contract...) in one query per kind: its ending options.
        return selectors.subscriptions_for(api_actor(self.request)).prefetch_related("provisioned")

    def _end(self, service):
        subscription = self.get_object()
        service(api_actor(self.request), subscription)
        subscription = self.get_queryset().get(pk=subscription.pk)
        return Response(self.get_serializer(subscription).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        request=None,
        responses={202: SubscriptionSerializer, **ENDING_ERRORS},
        summary="Cancel with a full refund (inside DigiCert's 30 days)",
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        """An ACME contract inside DigiCert's 30 days: DigiCert cancels it first; once it confirms, the
        billing subscription is cancelled (at Digital River or by the back office) and what the
        customer paid is refunded in full (202: follow `state`). After day 30: 409
        `cancel_window_closed` (stop renewal instead). Needs the billing right."""
        return self._end(cancellation.cancel_with_refund)

    @extend_schema(
        request=None, responses={202: SubscriptionSerializer, **ENDING_ERRORS}, summary="Stop renewal"
    )
    @action(detail=True, methods=["post"], url_path="stop-renewal")
    def stop_renewal(self, request, pk=None):
        """No further charge: what was sold runs to the end of the paid period (`current_period_end_date`),
        then ends; the ACME contract's renewal is stopped at DigiCert too (202). Needs the billing right."""
        return self._end(cancellation.stop_renewal)

    @extend_schema(
        request=None, responses={202: SubscriptionSerializer, **ENDING_ERRORS}, summary="Resume renewal"
    )
    @action(detail=True, methods=["post"], url_path="resume-renewal")
    def resume_renewal(self, request, pk=None):
        """Renew again: a subscription the back office renews, while its paid period runs (Digital
        River cannot take a cancelled subscription back: 409 `not_available_today`; sell it again in a
        new checkout). Needs the billing right."""
        return self._end(cancellation.resume_renewal)

    @extend_schema(
        request=SubscriptionDowngradeSerializer,
        responses={202: SubscriptionSerializer, **ENDING_ERRORS},
        summary="Downgrade at the end of the paid period",
    )
    @action(detail=True, methods=["post"])
    def downgrade(self, request, pk=None):
        """Move to a cheaper product of the same plan on the same agreement: it takes effect at the
        vendor at the end of the paid period, with the new price from that renewal (`scheduled_change`
        until then; 202). Needs the billing right."""
        data = SubscriptionDowngradeSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        actor = api_actor(request)
        product = partner_selectors.get_or_404(
            selectors.products_for(actor), pk=data.validated_data["product"]
        )
        subscription = changes.schedule_downgrade(actor, self.get_object(), product)
        subscription = self.get_queryset().get(pk=subscription.pk)
        return Response(self.get_serializer(subscription).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        request=None,
        responses={202: SubscriptionSerializer, **ENDING_ERRORS},
        summary="Cancel the scheduled downgrade",
    )
    @action(detail=True, methods=["post"], url_path="cancel-downgrade")
    def cancel_downgrade(self, request, pk=None):
        """Drop the scheduled downgrade before the end of the paid period: the subscription renews on
        its current product at its current price (`scheduled_change` empty; 202). 409
        `no_downgrade_scheduled` when none is. Needs the billing right."""
        return self._end(changes.cancel_scheduled_downgrade)


class AgreementViewSet(viewsets.ReadOnlyModelViewSet):
    """Recurring billing agreements your customers accepted."""

    serializer_class = AgreementSerializer
    permission_classes = [IsMemberOrStaff]
    filterset_fields = ["customer"]
    ordering = ["-created_at"]

    def get_queryset(self):
        return selectors.agreements_for(api_actor(self.request))


class NoticeViewSet(viewsets.ReadOnlyModelViewSet):
    """Every notice sent about a subscription, with its delivery outcome."""

    serializer_class = NoticeSerializer
    permission_classes = [IsMemberOrStaff]
    filterset_fields = ["subscription", "kind", "delivered"]
    ordering = ["-created_at"]

    def get_queryset(self):
        return selectors.notices_for(api_actor(self.request))


class PaymentMethodSerializer(serializers.Serializer):
    source_id = serializers.CharField(
        max_length=64,
        help_text="The new reusable payment source (Digital River's sourceId), as Drop-in returned it.",
    )


class PaymentMethodQueuedSerializer(serializers.Serializer):
    customer = serializers.IntegerField()
    operation = OperationSerializer(
        help_text="Saving the source at Digital River, then giving it to the subscriptions its service runs."
    )


class BillingCustomerViewSet(viewsets.GenericViewSet):
    """A customer's billing: the payment method their subscriptions are charged to."""

    permission_classes = [IsMemberOrStaff]
    serializer_class = PaymentMethodSerializer

    def get_queryset(self):
        return partner_selectors.customers_for(api_actor(self.request)).select_related("partner")

    @extend_schema(
        request=PaymentMethodSerializer,
        responses={202: PaymentMethodQueuedSerializer},
        summary="Change a customer's payment method",
    )
    @action(detail=True, methods=["post"], url_path="payment-method")
    def payment_method(self, request, pk=None):
        """Give the customer's subscriptions a new card on the same billing agreement (202): saved to
        the Digital River customer, then Digital River's service charges it (`sourceId`) and the
        back office charges it from the next renewal. Needs the billing right."""
        customer = self.get_object()
        data = PaymentMethodSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        customer = payment_methods.change_payment_method(
            api_actor(request), customer, data.validated_data["source_id"]
        )
        operation = operations_of(customer).filter(kind=payment_methods.ChangePaymentMethod.kind).first()
        body = {"customer": customer.pk, "operation": OperationSerializer(operation).data}
        return Response(body, status=status.HTTP_202_ACCEPTED)
