"""How the API shows a vendor operation's progress."""

from rest_framework import serializers

from core.models import Operation


class OperationSerializer(serializers.ModelSerializer):
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

    def get_last_error(self, obj) -> dict | None:
        if not obj.last_error_code:
            return None
        return {"code": obj.last_error_code, "message": obj.last_error_message, "at": obj.last_error_at}
