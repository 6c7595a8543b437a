"""REST API over ACME contracts; vendor-backed operations answer 202 with the contract and its state."""

from __future__ import annotations

from functools import cached_property

from django.db.models import Q
from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema, extend_schema_field, inline_serializer
from rest_framework import generics, mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from core import clock, operations
from core.api.base import IsMemberOrStaff, api_actor
from core.api.fields import ModelSerializer, UtcDateTimeField
from core.api.operations import OperationSerializer
from partner import selectors as partner_selectors
from partner.access import Can, require
from subscriptions import not_billed, selectors
from subscriptions.acme import certificates
from subscriptions.acme import rules as acme_rules
from subscriptions.acme import selectors as acme_selectors
from subscriptions.acme import services as acme
from subscriptions.acme.models import AcmeContract, AcmeProduct, Certificate, ContractState
from subscriptions.acme.rules import end_options


def not_billed_reason_field() -> serializers.CharField:
    """Why a direct paid change is not billed; the service refuses one that needs it without it
    (400 `not_billed_reason_required`, a field error on `not_billed_reason`)."""
    return serializers.CharField(
        write_only=True,
        required=False,
        allow_blank=True,
        default="",
        max_length=500,
        help_text=f"{not_billed.HELP_TEXT} Required for a paid change that billing does not make "
        "(400 `not_billed_reason_required` without it).",
    )


class EndOptionSerializer(serializers.Serializer):
    action = serializers.ChoiceField(choices=["cancel", "stop_renewal", "resume_renewal"])
    until = UtcDateTimeField(allow_null=True)
    message = serializers.CharField()


class CredentialsSerializer(serializers.Serializer):
    directory_url = serializers.URLField()
    key_id = serializers.CharField()
    hmac_key = serializers.CharField(help_text="Masked; POST .../credentials/reveal/ shows it once.")
    issued_at = UtcDateTimeField(allow_null=True)
    revealed_at = UtcDateTimeField(allow_null=True)


class AcmeContractSerializer(ModelSerializer):
    customer = serializers.PrimaryKeyRelatedField(read_only=True)
    cancel_window_closes_at = UtcDateTimeField(read_only=True, allow_null=True)
    options_today = serializers.SerializerMethodField(
        help_text="Which of cancel / stop renewal / resume renewal applies today, and until when."
    )
    credentials = serializers.SerializerMethodField()
    last_operation = serializers.SerializerMethodField()

    class Meta:
        model = AcmeContract
        fields = [
            "id",
            "reference",
            "customer",
            "subaccount",
            "product",
            "sans",
            "organization",
            "state",
            "vendor_id",
            "auto_renew_requested",
            "auto_renew",
            "auto_renew_source",
            "term_started_at",
            "valid_till",
            "cancel_window_closes_at",
            "cancelled_at",
            "options_today",
            "credentials",
            "drift",
            "synced_at",
            "certificates_synced_at",
            "last_operation",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    @extend_schema_field(EndOptionSerializer(many=True))
    def get_options_today(self, obj):
        if "now" not in self.context:  # one clock read per answer, not per row
            self.context["now"] = clock.now()
        until = self._until_field.to_representation
        # EndOptionSerializer's fields (the schema) written out: its per-field machinery cost more
        # than the options themselves (tests/api/test_times.py checks both give the same).
        return [
            {"action": option.action, "until": until(option.until), "message": option.message}
            for option in end_options(obj, self.context["now"])
        ]

    @cached_property
    def _until_field(self):
        return EndOptionSerializer().fields["until"]

    # One nested serializer per list, not one per row: building a serializer (its fields, deep-copied)
    # cost more than the row itself.
    @cached_property
    def _operation_serializer(self):
        return OperationSerializer(context=self.context)

    @extend_schema_field(CredentialsSerializer(allow_null=True))
    def get_credentials(self, obj):
        if not obj.eab_hmac_key:
            return None
        return {
            "directory_url": obj.directory_url,
            "key_id": obj.eab_key_id,
            "hmac_key": obj.eab_hmac_key_masked,  # the stored hint: no decrypting to show a mask
            "issued_at": obj.credentials_issued_at,
            "revealed_at": obj.credentials_revealed_at,
        }

    @extend_schema_field(OperationSerializer(allow_null=True))
    def get_last_operation(self, obj):
        operation = latest_operation(self, obj)
        return self._operation_serializer.to_representation(operation) if operation else None


class OrderSerializer(serializers.Serializer):
    customer = serializers.IntegerField()
    product = serializers.ChoiceField(choices=AcmeProduct.choices)
    sans = serializers.ListField(child=serializers.CharField(max_length=253), min_length=1)
    auto_renew = serializers.BooleanField(
        required=False,
        allow_null=True,
        default=None,
        help_text="Leave out to let the account setting decide (else off).",
    )
    organization = serializers.DictField(required=False, allow_null=True)
    not_billed_reason = not_billed_reason_field()


class SansSerializer(serializers.Serializer):
    sans = serializers.ListField(child=serializers.CharField(max_length=253), min_length=1)


class RegenerateSerializer(serializers.Serializer):
    revoke_existing = serializers.BooleanField(default=True)


class ResolveDriftSerializer(serializers.Serializer):
    field = serializers.ChoiceField(choices=acme_rules.DRIFT_FIELDS)
    keep = serializers.ChoiceField(choices=["vendor", "ours"])


RevealedSerializer = inline_serializer(
    "RevealedCredentials",
    {
        "directory_url": serializers.URLField(),
        "key_id": serializers.CharField(),
        "hmac_key": serializers.CharField(),
        "configs": inline_serializer(
            "AcmeClientConfig",
            {
                "client": serializers.CharField(),
                "language": serializers.CharField(),
                "text": serializers.CharField(),
                "challenge": serializers.ChoiceField(choices=["http-01", "dns-01"]),
                "challenge_reason": serializers.CharField(),
            },
            many=True,
        ),
    },
)


class AcmeContractFilter(filters.FilterSet):
    state = filters.MultipleChoiceFilter(choices=ContractState.choices)

    class Meta:
        model = AcmeContract
        fields = ["state", "product", "customer", "auto_renew"]


def accepted(view, obj):
    """202: the vendor call runs in the background; the answer is the object with its state now."""
    obj.refresh_from_db()
    return Response(view.get_serializer(obj).data, status=status.HTTP_202_ACCEPTED)


def latest_operation(serializer, obj):
    """The object's newest operation: from the list's one-query map, else read for this object alone."""
    latest = serializer.context.get("latest_operations")
    return latest.get(obj.pk) if latest is not None else operations.latest_by_target([obj]).get(obj.pk)


class OperationsViewMixin:
    """Viewsets of objects with vendor operations: newest operations in one query, service calls answer 202."""

    operation_columns = OperationSerializer.COLUMNS  # what the list reads of each newest operation

    def paginate_queryset(self, queryset):
        page = super().paginate_queryset(queryset)
        self._latest = operations.latest_by_target(
            page if page is not None else queryset, only=self.operation_columns
        )
        return page

    def get_serializer_context(self):
        context = super().get_serializer_context()
        if hasattr(self, "_latest"):
            context["latest_operations"] = self._latest
        return context

    def _do(self, call, *args, **kwargs):
        obj = self.get_object()
        call(api_actor(self.request), obj, *args, **kwargs)
        return accepted(self, obj)

    def _operations(self, request):
        page = self.paginator.paginate_queryset(
            selectors.operations_of(self.get_object()), request, view=self
        )
        return self.paginator.get_paginated_response(OperationSerializer(page, many=True).data)


class AcmeContractViewSet(
    OperationsViewMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """DigiCert ACME subscriptions of your customers."""

    serializer_class = AcmeContractSerializer
    permission_classes = [IsMemberOrStaff]
    filterset_class = AcmeContractFilter
    search_fields = ["sans", "^vendor_id", "customer__name"]
    ordering_fields = ["created_at", "valid_till", "state"]
    ordering = ["-created_at"]

    def get_queryset(self):
        qs = acme_selectors.acme_contracts_for(api_actor(self.request))
        if self.action == "list":
            # The list shows ids of the customer and subaccount, not their rows, and never the
            # vendor's raw answers: no joins, and the two big JSON columns stay in the database.
            qs = qs.select_related(None).defer("vendor_response", "vendor_view")
        return qs

    @extend_schema(request=OrderSerializer, responses={202: AcmeContractSerializer})
    def create(self, request):
        """Order a contract; DigiCert creates it in the background (state `pending`, then `active`)."""
        data = OrderSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        actor = api_actor(request)
        customer = partner_selectors.get_or_404(
            partner_selectors.customers_for(actor), pk=data.validated_data["customer"]
        )
        contract = acme.order_acme_contract(
            actor,
            customer,
            product=data.validated_data["product"],
            sans=data.validated_data["sans"],
            auto_renew=data.validated_data["auto_renew"],
            organization=data.validated_data.get("organization"),
            not_billed_reason=data.validated_data["not_billed_reason"],
        )
        return accepted(self, contract)

    @extend_schema(request=None, responses={202: AcmeContractSerializer})
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        """Cancel within 30 days of creation; afterwards 409 `cancel_window_closed` (stop renewal instead)."""
        return self._do(acme.cancel_acme_contract)

    @extend_schema(request=None, responses={202: AcmeContractSerializer})
    @action(detail=True, methods=["post"], url_path="stop-renewal")
    def stop_renewal(self, request, pk=None):
        """Stop renewal: the contract stays active until valid_till."""
        return self._do(acme.stop_renewal)

    @extend_schema(request=None, responses={202: AcmeContractSerializer})
    @action(detail=True, methods=["post"], url_path="resume-renewal")
    def resume_renewal(self, request, pk=None):
        """Resume renewal while the term runs."""
        return self._do(acme.resume_renewal)

    @extend_schema(request=SansSerializer, responses={202: AcmeContractSerializer})
    @action(detail=True, methods=["post", "delete"])
    def sans(self, request, pk=None):
        """POST adds domain names, DELETE removes them (refused on a cancelled contract)."""
        data = SansSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        call = acme.add_sans if request.method == "POST" else acme.remove_sans
        return self._do(call, data.validated_data["sans"])

    @extend_schema(request=RegenerateSerializer, responses={202: AcmeContractSerializer})
    @action(detail=True, methods=["post"], url_path="credentials/regenerate")
    def regenerate_credentials(self, request, pk=None):
        """New EAB credentials; `revoke_existing: false` keeps the old ones valid meanwhile."""
        data = RegenerateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return self._do(acme.regenerate_credentials, revoke_existing=data.validated_data["revoke_existing"])

    @extend_schema(request=None, responses={200: RevealedSerializer})
    @action(detail=True, methods=["post"], url_path="credentials/reveal")
    def reveal_credentials(self, request, pk=None):
        """The EAB HMAC key in full with client configuration, once (audited); 409 afterwards."""
        revealed = acme.reveal_credentials(api_actor(request), self.get_object())
        return Response(
            {
                "directory_url": revealed.directory_url,
                "key_id": revealed.key_id,
                "hmac_key": revealed.hmac_key,
                "configs": revealed.configs,
            }
        )

    @extend_schema(request=None, responses={202: AcmeContractSerializer})
    @action(detail=True, methods=["post"])
    def sync(self, request, pk=None):
        """Read the contract at DigiCert and record drift."""
        return self._do(acme.sync_acme_contract)

    @extend_schema(request=ResolveDriftSerializer, responses={202: AcmeContractSerializer})
    @action(detail=True, methods=["post"], url_path="drift/resolve")
    def resolve_drift(self, request, pk=None):
        """Accept DigiCert's value of a drifted field, or push ours."""
        data = ResolveDriftSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return self._do(acme.resolve_drift, data.validated_data["field"], keep=data.validated_data["keep"])

    @extend_schema(request=None, responses={202: AcmeContractSerializer})
    @action(detail=True, methods=["post"], url_path="certificates/refresh")
    def refresh_certificates(self, request, pk=None):
        """Read the contract's certificate list at DigiCert now (GET /api/v1/certificates/?contract= lists them)."""
        return self._do(certificates.refresh_certificates)

    @extend_schema(request=None, responses={202: AcmeContractSerializer})
    @action(detail=True, methods=["post"])
    def retry(self, request, pk=None):
        """Retry the contract's last failed vendor operation."""
        return self._do(acme.retry_last_operation)

    @extend_schema(responses={200: OperationSerializer(many=True)})
    @action(detail=True, methods=["get"])
    def operations(self, request, pk=None):
        """The contract's vendor operations, newest first."""
        return self._operations(request)


class CertificateSerializer(ModelSerializer):
    gone = serializers.SerializerMethodField(
        help_text="DigiCert no longer lists it (replaced, or the contract ended)."
    )

    class Meta:
        model = Certificate
        fields = [
            "id",
            "customer",
            "contract",
            "domain",
            "sans",
            "serial_number",
            "status",
            "expires_at",
            "gone",
            "first_seen_at",
            "last_seen_at",
            "gone_at",
        ]
        read_only_fields = fields

    def get_gone(self, obj) -> bool:
        return obj.gone_at is not None


class CertificateFilter(filters.FilterSet):
    expiring = filters.BooleanFilter(
        method="filter_expiring",
        help_text="true: listed certificates expiring within CERTIFICATE_EXPIRY_WARNING_DAYS (30), expired "
        "ones included; false: the others.",
    )
    include_gone = filters.BooleanFilter(
        method="keep",
        help_text="true: also certificates DigiCert no longer lists (replaced, or the contract ended).",
    )

    class Meta:
        model = Certificate
        fields = ["customer", "contract", "status", "expiring", "include_gone"]

    def filter_queryset(self, queryset):
        queryset = super().filter_queryset(queryset)
        return (
            queryset if self.form.cleaned_data.get("include_gone") else queryset.filter(gone_at__isnull=True)
        )

    def filter_expiring(self, queryset, name, value):
        soon = Q(gone_at__isnull=True, expires_at__lte=acme_selectors.expiry_warning_until(clock.now()))
        return queryset.filter(soon) if value else queryset.exclude(soon)

    def keep(self, queryset, name, value):
        return queryset  # applied in filter_queryset: absent means "listed ones only"


class CertificateViewSet(viewsets.ReadOnlyModelViewSet):
    """Certificates DigiCert issued under your customers' ACME contracts, as its lists last showed them."""

    serializer_class = CertificateSerializer
    permission_classes = [IsMemberOrStaff]
    filterset_class = CertificateFilter
    search_fields = ["domain", "^serial_number", "customer__name"]
    ordering_fields = ["expires_at", "domain", "first_seen_at"]
    ordering = ["expires_at", "id"]

    def get_queryset(self):
        return acme_selectors.certificates_for(api_actor(self.request), include_gone=True)


class AccountSettingsSerializer(serializers.Serializer):
    auto_renew_subscription = serializers.BooleanField(
        allow_null=True, help_text="The DigiCert account setting; null is the vendor default (off)."
    )
    read_at = UtcDateTimeField(read_only=True, allow_null=True)
    last_operation = OperationSerializer(read_only=True, allow_null=True)


class AccountSettingsView(generics.GenericAPIView):
    """A DigiCert subaccount's `auto_renew_subscription` setting: GET the last read value (`?refresh=1`
    reads it again at DigiCert), PATCH to change it (202)."""

    permission_classes = [IsMemberOrStaff]
    serializer_class = AccountSettingsSerializer

    def get_queryset(self):
        return partner_selectors.subaccounts_for(api_actor(self.request))

    def _answer(self, subaccount, code=status.HTTP_200_OK):
        subaccount.refresh_from_db()
        latest = operations.latest_by_target([subaccount]).get(subaccount.pk)
        return Response(
            {
                "auto_renew_subscription": subaccount.auto_renew_setting,
                "read_at": subaccount.settings_read_at,
                "last_operation": OperationSerializer(latest).data if latest else None,
            },
            status=code,
        )

    def get(self, request, pk):
        subaccount = self.get_object()
        if request.query_params.get("refresh"):
            acme.read_account_settings(api_actor(request), subaccount)
            return self._answer(subaccount, status.HTTP_202_ACCEPTED)
        require_view(api_actor(request), subaccount)
        return self._answer(subaccount)

    @extend_schema(responses={202: AccountSettingsSerializer})
    def patch(self, request, pk):
        data = AccountSettingsSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        subaccount = self.get_object()
        acme.set_account_auto_renew(
            api_actor(request), subaccount, data.validated_data["auto_renew_subscription"]
        )
        return self._answer(subaccount, status.HTTP_202_ACCEPTED)


def require_view(actor, subaccount):
    require(actor, Can.VIEW, partner=subaccount.partner, customer=subaccount.customer)
