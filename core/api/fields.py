"""Serializer fields the API shares."""

from __future__ import annotations

from rest_framework import serializers


class OptionalChoiceField(serializers.ChoiceField):
    """A read-only choice that may be unset: `null` then, never `""` (which is in no enum)."""

    def __init__(self, choices, **kwargs):
        super().__init__(choices, read_only=True, allow_null=True, **kwargs)

    def to_representation(self, value):
        return value or None
