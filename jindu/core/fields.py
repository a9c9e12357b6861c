"""Model fields for identity numbers (encrypted at rest, looked up by a keyed blind index)
and for phone numbers (:class:`PhoneNumberField`, one normalised form; see its docstring).

Declare the number and its digest side by side; the digest is named ``<field>_digest``
and carries the unique constraint::

    from jindu.core.fields import BlindIndexField, IdentityNumberField

    class Person(VersionedModel):
        id_number = IdentityNumberField(_("身份证号"), blank=True)
        id_number_digest = BlindIndexField(source="id_number")

        class Meta:
            constraints = [
                models.UniqueConstraint(fields=["id_number_digest"], name="persons_person_id_number_uniq"),
            ]

    Person.objects.filter(**identity_lookup("id_number", "11010119880516105x"))
    Person.objects.filter(identity_q("id_number", raw) | Q(name=...))

- In Python the field holds the **normalised plaintext** (``"11010119880516105X"``); in
  the database it holds ciphertext (:mod:`jindu.core.crypto`), never comparable.
- On save the number is normalised (:mod:`jindu.core.idnumbers`; an invalid number
  raises :class:`~jindu.core.idnumbers.IdentityNumberError`) and the digest field is
  filled with the blind index, ``NULL`` when the number is empty (so many rows may lack a
  number while two equal numbers violate the unique constraint → ``IntegrityError``).
- ``full_clean()``, model forms and :class:`IdentityNumberFormField` run the same
  normaliser, so forms, imports and the API share one validation path.
- Documents other than the resident identity card: give the model a document-type field
  (choices :class:`~jindu.core.idnumbers.DocumentType`) and pass its name as
  ``document_type_field``; the digest then covers (type, number), and look-ups pass
  ``document_type=``.
- Queries on the encrypted column itself are refused (except ``isnull``): use
  :func:`identity_lookup` / :func:`identity_q`. ``QuerySet.update()`` of the number does
  not refresh the digest: change numbers through ``save()``; ``save(update_fields=...)``
  naming the number must name the digest too (checked).
- ``dumpdata`` writes ciphertext, ``loaddata`` accepts it.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.core import checks
from django.core.exceptions import FieldError, ValidationError
from django.db import models
from django.db.models import Q
from django.db.models.signals import pre_save
from django.utils.translation import gettext_lazy as _

from jindu.core import crypto
from django.utils.deconstruct import deconstructible

from jindu.core.idnumbers import DocumentType, normalize_document_number
from jindu.core.phones import PhoneNumberError, normalize_phone

__all__ = [
    "IdentityNumberField",
    "BlindIndexField",
    "IdentityNumberFormField",
    "identity_lookup",
    "identity_q",
    "identity_digest",
    "IdentityNumberSerializerField",  # noqa: F822 (module __getattr__, built lazily)
    "PhoneNumberField",
    "PhoneNumberFormField",
    "PhoneNumberValidator",
    "PhoneNumberSerializerField",  # noqa: F822 (module __getattr__, built lazily)
]

_EMPTY = (None, "")


def identity_digest(raw: Any, *, document_type: str = DocumentType.RESIDENT_ID) -> str:
    """The blind index of ``raw`` after normalisation. Raises ``IdentityNumberError``."""
    return crypto.blind_index(normalize_document_number(document_type, raw), document_type=str(document_type))


def identity_lookup(field: str, raw: Any, *, document_type: str = DocumentType.RESIDENT_ID) -> dict[str, str]:
    """Filter keyword arguments finding rows whose identity ``field`` equals ``raw``.

    ``field`` is the IdentityNumberField's name or a path to it (``"person__id_number"``);
    ``raw`` any accepted form (full-width, lower-case ``x``, 15 digits).
    Returns ``{"<field>_digest": "<hex>"}``. Raises ``IdentityNumberError`` when ``raw``
    is not a valid number (a search box should say so rather than show "no match").
    """
    return {f"{field}_digest": identity_digest(raw, document_type=document_type)}


def identity_q(field: str, raw: Any, *, document_type: str = DocumentType.RESIDENT_ID) -> Q:
    """:func:`identity_lookup` as a ``Q`` object."""
    return Q(**identity_lookup(field, raw, document_type=document_type))


class IdentityNumberFormField(forms.CharField):
    """Form field normalising a number of a fixed ``document_type`` (default resident ID).

    ``clean()`` returns the normalised number or raises the ``IdentityNumberError``
    (Chinese message) of :mod:`jindu.core.idnumbers`.
    """

    def __init__(self, *, document_type: str | None = DocumentType.RESIDENT_ID, **kwargs):
        self.document_type = document_type
        kwargs.setdefault("max_length", 64)
        super().__init__(**kwargs)

    def to_python(self, value):
        value = super().to_python(value)
        if value in self.empty_values or self.document_type is None:
            return value
        return normalize_document_number(self.document_type, value)


class NormalizedOnSaveMixin:
    """Normalise (and so validate) the field's value in the model's ``pre_save`` signal.

    Django sends ``pre_save`` before it marks the surrounding transaction for rollback on
    error, so an invalid value raises its ``ValidationError`` without breaking the caller's
    atomic block (an import can report the row and go on). Fields also normalise in
    ``pre_save()`` for paths that send no signal, such as ``bulk_create``.
    Subclasses implement ``normalize(value, instance) -> str``.
    """

    def contribute_to_class(self, cls, name, *args, **kwargs):
        super().contribute_to_class(cls, name, *args, **kwargs)
        if not cls._meta.abstract:
            pre_save.connect(self._normalize_before_save, sender=cls, weak=False)

    def _normalize_before_save(self, sender, instance, raw=False, update_fields=None, **kwargs):
        if raw or (update_fields is not None and self.name not in update_fields):
            return
        value = getattr(instance, self.attname)
        if value not in _EMPTY:
            setattr(instance, self.attname, self.normalize(value, instance))


class IdentityNumberField(NormalizedOnSaveMixin, models.CharField):
    """An identity or document number, normalised, stored encrypted (AES-GCM).

    ``document_type_field``: name of a sibling field holding a
    :class:`~jindu.core.idnumbers.DocumentType` value; without it every value is a
    resident identity number. Requires a :class:`BlindIndexField` named ``<name>_digest``
    with ``source="<name>"`` (system check ``jindu.E101``). ``max_length`` (default 255)
    sizes the ciphertext column.
    """

    description = _("身份证件号码（加密存储）")

    def __init__(self, *args, document_type_field: str | None = None, **kwargs):
        self.document_type_field = document_type_field
        kwargs.setdefault("max_length", 255)
        super().__init__(*args, **kwargs)

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        if kwargs.get("max_length") == 255:
            del kwargs["max_length"]
        if self.document_type_field:
            kwargs["document_type_field"] = self.document_type_field
        return name, path, args, kwargs


    @property
    def digest_field_name(self) -> str:
        return f"{self.name}_digest"

    def check(self, **kwargs):
        errors = super().check(**kwargs)
        if self.model._meta.abstract:
            return errors
        try:
            digest = self.model._meta.get_field(self.digest_field_name)
        except Exception:
            digest = None
        if not isinstance(digest, BlindIndexField) or digest.source != self.name:
            errors.append(
                checks.Error(
                    f"{self.model.__name__}.{self.name} needs "
                    f'{self.digest_field_name} = BlindIndexField(source="{self.name}")',
                    obj=self,
                    id="jindu.E101",
                )
            )
        if self.document_type_field:
            try:
                self.model._meta.get_field(self.document_type_field)
            except Exception:
                errors.append(
                    checks.Error(
                        f"document_type_field {self.document_type_field!r} is not a field of {self.model.__name__}",
                        obj=self,
                        id="jindu.E102",
                    )
                )
        return errors

    # --- normalisation -------------------------------------------------------------

    def document_type_for(self, instance: Any) -> str:
        if not self.document_type_field:
            return DocumentType.RESIDENT_ID
        return getattr(instance, self.document_type_field) or DocumentType.RESIDENT_ID

    def normalize(self, value: Any, instance: Any) -> str:
        """The normalised number for ``instance``'s document type. Raises ``IdentityNumberError``."""
        return normalize_document_number(self.document_type_for(instance), value)

    def _empty(self):
        return None if self.null else ""

    # --- Python <-> database -------------------------------------------------------

    def from_db_value(self, value, expression, connection):
        if value in _EMPTY:
            return value
        return crypto.decrypt(value)

    def to_python(self, value):
        if value in _EMPTY:
            return value
        value = str(value)
        if crypto.is_encrypted(value):  # loaddata of a dumpdata fixture
            return crypto.decrypt(value)
        return value

    def get_prep_value(self, value):
        if value in _EMPTY:
            return self._empty()
        value = str(value)
        if crypto.is_encrypted(value):
            return value
        return crypto.encrypt(value)

    def pre_save(self, model_instance, add):
        value = getattr(model_instance, self.attname)
        if value in _EMPTY:
            value = self._empty()
        else:
            value = self.normalize(value, model_instance)
        setattr(model_instance, self.attname, value)
        return value

    def value_to_string(self, obj):
        value = self.value_from_object(obj)
        return "" if value in _EMPTY else self.get_prep_value(value)

    def clean(self, value, model_instance):
        value = self.to_python(value)
        if value not in _EMPTY:
            value = self.normalize(value, model_instance)
        self.validate(value, model_instance)
        self.run_validators(value)
        return value

    def get_lookup(self, lookup_name):
        if lookup_name == "isnull":
            return super().get_lookup(lookup_name)
        raise FieldError(
            f"{self.model.__name__}.{self.name} is encrypted and cannot be queried with "
            f"'{lookup_name}'; use jindu.core.fields.identity_lookup()"
        )

    def get_transform(self, lookup_name):
        return None

    def formfield(self, **kwargs):
        defaults = {
            "form_class": IdentityNumberFormField,
            "document_type": None if self.document_type_field else DocumentType.RESIDENT_ID,
            "max_length": 64,
        }
        defaults.update(kwargs)
        return super().formfield(**defaults)


class BlindIndexField(models.CharField):
    """The keyed blind index (HMAC-SHA256 hex) of a sibling :class:`IdentityNumberField`.

    Filled on every save from ``source``; ``NULL`` when the number is empty. Not editable.
    Put the unique constraint here.
    """

    description = _("证件号码检索摘要")

    def __init__(self, *args, source: str, **kwargs):
        self.source = source
        kwargs.setdefault("max_length", 64)
        kwargs.setdefault("null", True)
        kwargs.setdefault("blank", True)
        kwargs.setdefault("editable", False)
        super().__init__(*args, **kwargs)

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        kwargs["source"] = self.source
        for key, ours in (("max_length", 64), ("null", True), ("blank", True), ("editable", False)):
            actual = getattr(self, key)
            if actual == ours:
                kwargs.pop(key, None)
            else:
                kwargs[key] = actual
        return name, path, args, kwargs

    def contribute_to_class(self, cls, name, *args, **kwargs):
        super().contribute_to_class(cls, name, *args, **kwargs)
        if not cls._meta.abstract:
            pre_save.connect(self._guard_update_fields, sender=cls, weak=False)

    def _guard_update_fields(self, sender, instance, update_fields=None, raw=False, **kwargs):
        if update_fields and self.source in update_fields and self.name not in update_fields:
            raise ValueError(f"save(update_fields=...) names {self.source!r} but not {self.name!r}")

    def compute(self, instance: Any) -> str | None:
        """The digest for ``instance``'s current number (``None`` when empty)."""
        source = instance._meta.get_field(self.source)
        value = getattr(instance, source.attname)
        if value in _EMPTY:
            return None
        document_type = source.document_type_for(instance)
        return crypto.blind_index(source.normalize(value, instance), document_type=str(document_type))

    def pre_save(self, model_instance, add):
        digest = self.compute(model_instance)
        setattr(model_instance, self.attname, digest)
        return digest


# -- phone numbers ----------------------------------------------------------------------


def _normalize_phone_or_explain(value: Any, default_area_code: str | None) -> str:
    """:func:`jindu.core.phones.normalize_phone`, its error naming the value received."""
    try:
        return normalize_phone(value, default_area_code=default_area_code)
    except PhoneNumberError as exc:
        raise ValidationError(
            _("%(reason)s（收到“%(value)s”）。应为11位手机号码（如 13900001111）或带区号的固定电话（如 0898-66123456）。"),
            code=exc.code, params={"reason": exc.messages[0], "value": str(value).strip()},
        ) from None


@deconstructible
class PhoneNumberValidator:
    """Validator accepting what :func:`jindu.core.phones.normalize_phone` accepts.

    On the model field so that DRF's ``ModelSerializer`` (which copies model validators)
    refuses the same numbers forms and imports refuse. Raises ``ValidationError`` with a
    Chinese message and the ``PhoneNumberError`` code.
    """

    def __init__(self, default_area_code: str | None = None):
        self.default_area_code = default_area_code

    def __call__(self, value: Any) -> None:
        if value in _EMPTY:
            return
        _normalize_phone_or_explain(value, self.default_area_code)

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, PhoneNumberValidator) and other.default_area_code == self.default_area_code


class PhoneNumberFormField(forms.CharField):
    """Form field returning the stored form of a Chinese phone number (``"13900001111"``,
    ``"0898-66123456"``) or raising ``ValidationError`` with the Chinese reason."""

    def __init__(self, *, default_area_code: str | None = None, **kwargs):
        self.default_area_code = default_area_code
        kwargs.setdefault("max_length", 64)
        super().__init__(**kwargs)
        self.widget.attrs.setdefault("inputmode", "tel")

    def to_python(self, value):
        value = super().to_python(value)
        if value in self.empty_values:
            return value
        return _normalize_phone_or_explain(value, self.default_area_code)


class PhoneNumberField(NormalizedOnSaveMixin, models.CharField):
    """A Chinese mobile or landline number kept in one stored form
    (:func:`jindu.core.phones.normalize_phone`: ``"13900001111"``, ``"0898-66123456"``).

    Normalised by ``to_python`` (``full_clean``, model forms, fixtures) and again before
    every save (``pre_save`` signal and ``Field.pre_save``), so rows written by the API or
    by code hold the same form; an invalid number raises ``ValidationError`` (Chinese
    message) and nothing is written. ``blank=True`` allows ``""``. ``default_area_code``
    (``"0898"``) completes landlines typed without area code; by default they are refused,
    as the same digits are a different line in every city.
    """

    description = _("电话号码")

    def __init__(self, *args, default_area_code: str | None = None, **kwargs):
        self.default_area_code = default_area_code
        # Instance attribute read by Field.validators: DRF's ModelSerializer copies it.
        self.default_validators = [PhoneNumberValidator(default_area_code)]
        kwargs.setdefault("max_length", 32)
        super().__init__(*args, **kwargs)

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        if kwargs.get("max_length") == 32:
            del kwargs["max_length"]
        if self.default_area_code:
            kwargs["default_area_code"] = self.default_area_code
        return name, path, args, kwargs

    def normalize(self, value: Any, instance: Any = None) -> str:
        """The stored form of ``value``. Raises ``ValidationError`` (Chinese message)."""
        return _normalize_phone_or_explain(value, self.default_area_code)

    def to_python(self, value):
        value = super().to_python(value)
        if value in _EMPTY:
            return value
        return self.normalize(value)

    def get_prep_value(self, value):
        # Not CharField's (which calls to_python): lookups such as phone__contains="139"
        # must not be refused as invalid numbers. Saved values went through pre_save.
        value = models.Field.get_prep_value(self, value)
        return value if value is None else str(value)

    def pre_save(self, model_instance, add):
        value = getattr(model_instance, self.attname)
        if value not in _EMPTY:
            value = self.normalize(value)
            setattr(model_instance, self.attname, value)
        return value

    def formfield(self, **kwargs):
        defaults = {"form_class": PhoneNumberFormField, "default_area_code": self.default_area_code, "max_length": 64}
        defaults.update(kwargs)
        return super().formfield(**defaults)


def _build_serializer_field():
    from rest_framework import serializers

    from jindu.core.idnumbers import display_identity_number

    class IdentityNumberSerializerField(serializers.CharField):
        """DRF field: normalises input like the form field, masks output like the templates.

        ``document_type``: fixed document type for input (default resident ID; ``None``
        leaves validation to the model's ``full_clean``/save). ``division_field``: dotted
        attribute path from the instance to its ``geo.Division`` (``"division"``,
        ``"residence_village"``); when given, the unmasking permission must be held in a
        subtree containing it (select_related it to keep list queries flat). Output goes
        through :func:`jindu.core.idnumbers.display_identity_number` with the request's user.
        Input errors are DRF ``ValidationError`` with the Chinese message and code.
        """

        def __init__(self, *, document_type=DocumentType.RESIDENT_ID, division_field=None, **kwargs):
            self.document_type = document_type
            self.division_field = division_field
            kwargs.setdefault("allow_blank", True)
            kwargs.setdefault("max_length", 64)
            super().__init__(**kwargs)

        def to_internal_value(self, data):
            value = super().to_internal_value(data)
            if value == "" or self.document_type is None:
                return value
            try:
                return normalize_document_number(self.document_type, value)
            except ValidationError as exc:
                raise serializers.ValidationError(exc.messages, code=exc.code) from None

        def get_attribute(self, instance):
            value = super().get_attribute(instance)
            division = None
            if self.division_field:
                division = instance
                for part in self.division_field.split("."):
                    division = getattr(division, part, None)
                    if division is None:
                        break
            return (value, division)

        def to_representation(self, value):
            number, division = value if isinstance(value, tuple) else (value, None)
            request = self.context.get("request")
            user = getattr(request, "user", None)
            return display_identity_number(number, user, division)

    return IdentityNumberSerializerField


def _build_phone_serializer_field():
    from rest_framework import serializers

    class PhoneNumberSerializerField(serializers.CharField):
        """DRF field returning the stored form of a phone number (like the form field);
        errors are DRF ``ValidationError`` with the Chinese message and code."""

        def __init__(self, *, default_area_code=None, **kwargs):
            self.default_area_code = default_area_code
            kwargs.setdefault("allow_blank", True)
            kwargs.setdefault("max_length", 64)
            super().__init__(**kwargs)

        def to_internal_value(self, data):
            value = super().to_internal_value(data)
            if value == "":
                return value
            try:
                return _normalize_phone_or_explain(value, self.default_area_code)
            except ValidationError as exc:
                raise serializers.ValidationError(exc.messages, code=exc.code) from None

    return PhoneNumberSerializerField


_lazy_fields: dict[str, Any] = {}
_lazy_builders = {
    "IdentityNumberSerializerField": _build_serializer_field,
    "PhoneNumberSerializerField": _build_phone_serializer_field,
}


def __getattr__(name):
    # Built lazily so importing model fields never imports DRF during app loading.
    if name in _lazy_builders:
        if name not in _lazy_fields:
            _lazy_fields[name] = _lazy_builders[name]()
        return _lazy_fields[name]
    raise AttributeError(name)
