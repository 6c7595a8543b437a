"""Serializer fields the API shares."""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from rest_framework import serializers


class OptionalChoiceField(serializers.ChoiceField):
    """A read-only choice that may be unset: `null` then, never `""` (which is in no enum)."""

    def __init__(self, choices, **kwargs):
        super().__init__(choices, read_only=True, allow_null=True, **kwargs)

    def to_representation(self, value):
        return value or None


class UtcDateTimeField(serializers.DateTimeField):
    """A date and time as the API shows every one: in the site's zone (TIME_ZONE, UTC; nothing
    activates another). The zone is fixed once per field, not looked up per value as DRF's default
    does, which a list of a hundred rows with ten dates each pays for."""

    def __init__(self, **kwargs):
        kwargs.setdefault("default_timezone", timezone.get_default_timezone())
        super().__init__(**kwargs)


class ModelSerializer(serializers.ModelSerializer):
    """The API's model serializer: model dates and times become `UtcDateTimeField`."""

    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.DateTimeField: UtcDateTimeField,
    }
