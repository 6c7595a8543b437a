"""API tokens of the calling user: list, create (the key is in this one answer only), revoke."""

from rest_framework import mixins, serializers, status, viewsets
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from core.api.base import api_actor
from core.api.fields import ModelSerializer
from core.models import ApiToken
from core.tokens import issue_api_token, revoke_api_token


class ApiTokenSerializer(ModelSerializer):
    is_active = serializers.BooleanField(read_only=True)

    class Meta:
        model = ApiToken
        fields = [
            "id",
            "name",
            "key_id",
            "created_at",
            "last_used_at",
            "expires_at",
            "revoked_at",
            "is_active",
        ]
        read_only_fields = ["id", "key_id", "created_at", "last_used_at", "revoked_at"]


class CreatedApiTokenSerializer(ApiTokenSerializer):
    key = serializers.CharField(read_only=True, help_text="Shown once; only a digest is stored.")

    class Meta(ApiTokenSerializer.Meta):
        fields = [*ApiTokenSerializer.Meta.fields, "key"]


class ApiTokenViewSet(
    mixins.ListModelMixin, mixins.CreateModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet
):
    """Your own API tokens. DELETE revokes (the row stays for the audit trail)."""

    serializer_class = ApiTokenSerializer
    permission_classes = [IsAuthenticated]
    ordering = ["-created_at"]

    queryset = ApiToken.objects.none()  # for the schema; the real one is per user

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return ApiToken.objects.none()
        return ApiToken.objects.filter(user=self.request.user)

    def get_serializer_class(self):
        return CreatedApiTokenSerializer if self.action == "create" else ApiTokenSerializer

    def create(self, request, *args, **kwargs):
        serializer = ApiTokenSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        token, key = issue_api_token(
            api_actor(request),
            request.user,
            serializer.validated_data["name"],
            expires_at=serializer.validated_data.get("expires_at"),
        )
        token.key = key
        return Response(CreatedApiTokenSerializer(token).data, status=status.HTTP_201_CREATED)

    def perform_destroy(self, instance):
        revoke_api_token(api_actor(self.request), instance)
