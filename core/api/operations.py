"""How the API shows a vendor operation's progress."""

from rest_framework import serializers

from core.api.fields import ModelSerializer
from core.models import Operation


class OperationSerializer(ModelSerializer):
    label = serializers.CharField(read_only=True)
    last_error = serializers.SerializerMethodField()

    class Meta:
        model = Operation
        fields = [
            "id",
            "kind",
            "label",
            "state",
            "attempts",
            "next_attempt_at",
            "last_error",
            "face",
            "created_at",
            "finished_at",
        ]

    # The columns its fields read: lists load only these (an operation's params and result stay put).
    COLUMNS = (
        *(f for f in Meta.fields if f not in ("label", "last_error")),
        "last_error_code",
        "last_error_message",
        "last_error_at",
    )

    def get_last_error(self, obj) -> dict | None:
        if not obj.last_error_code:
            return None
        return {"code": obj.last_error_code, "message": obj.last_error_message, "at": obj.last_error_at}
