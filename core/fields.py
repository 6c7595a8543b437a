"""Model field for secrets: stored as MultiFernet ciphertext, read as a masked `Secret`."""

from django.core.validators import MinValueValidator
from django.db import models

from core.secrets import Secret


class _SecretAttribute:
    """Wraps whatever is assigned in a `Secret` at once, so a plain string never lingers on the model."""

    def __init__(self, field):
        self.field = field

    def __get__(self, instance, owner=None):
        if instance is None:
            return self
        return instance.__dict__.get(self.field.attname)

    def __set__(self, instance, value):
        instance.__dict__[self.field.attname] = self.field.to_python(value)


class EncryptedSecretField(models.TextField):
    """Holds a secret encrypted at rest. Assign a plain string or a `Secret`; read a `Secret`."""

    description = "Encrypted secret"

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("blank", True)
        kwargs.setdefault("default", "")
        kwargs.setdefault("editable", False)
        super().__init__(*args, **kwargs)

    def contribute_to_class(self, cls, name, private_only=False):
        super().contribute_to_class(cls, name, private_only)
        setattr(cls, self.attname, _SecretAttribute(self))

    def from_db_value(self, value, expression, connection):
        return Secret(value) if value else None

    def to_python(self, value):
        if value is None or value == "" or isinstance(value, Secret):
            return value or None
        return Secret.from_plaintext(value)

    def get_prep_value(self, value):
        if value is None or value == "":
            return ""
        if isinstance(value, Secret):
            return value.token
        return Secret.from_plaintext(str(value)).token

    def value_to_string(self, obj):  # serialization (dumpdata) keeps only ciphertext
        value = self.value_from_object(obj)
        return value.token if isinstance(value, Secret) else ""


def money_field(**kwargs) -> models.DecimalField:
    """An amount of money: two decimals, never negative (prices, captured and refunded amounts)."""
    return models.DecimalField(max_digits=12, decimal_places=2, validators=[MinValueValidator(0)], **kwargs)
