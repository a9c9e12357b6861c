"""Validating many new records' rows as the importer's model form validates them, without
Django's form machinery per row: :class:`RowChecker`.

:class:`jindu.core.imports.bulk.FormPool` already builds one form per variant and re-binds
it; what is left per row is Django's generic machinery around the checks — a bound field
and a widget look-up per form field, ``_get_validation_exclusions``, ``construct_instance``
and ``Model.clean_fields`` each walking every model field, ``validate_constraints`` asking
the router — which for a registry row costs more than the checks themselves. The checker
compiles that machinery once per form variant into flat per-field plans and runs, per row:

1. each form field's own ``clean`` (model-choice fields remembered as in ``FormPool``,
   as are Django's own choice and boolean fields, which answer from the value alone),
   then the form's ``clean_<field>`` hooks;
2. the form's own ``clean()`` and ``_post_clean()`` — the form's code, unchanged — down
   to ``BaseModelForm._post_clean``, which is replaced by its compiled equivalent: the
   same exclusions, ``construct_instance``, the model's ``full_clean(validate_unique=False)``
   (``clean_fields`` with :class:`~jindu.core.models.base.NormalizedTextModel`'s text
   normalisation, each field's ``clean``; the model's ``clean()``; the constraints, skipped
   only when every constraint names a field the form leaves out, where Django returns
   without a query) and ``validate_unique`` as ``FormPool`` runs it.

The errors are the form's own ``ErrorDict`` built by its ``add_error``/``_update_errors``,
so messages, their order and the fields they name are those of the form path;
``cleaned_data`` and the ``instance`` hold the same values. Form classes using what the
plans do not cover — a field that is disabled or a file, a form prefix, ``empty_permitted``,
inline foreign keys, their own ``full_clean``/``_clean_fields``/``add_error`` and the like,
a model with its own ``clean_fields`` — are validated by ``FormPool`` instead (see
:attr:`RowChecker.compiled`). ``jindu/persons/tests/test_import_rowcheck.py`` compares the
two paths on good and bad rows.
"""

from __future__ import annotations

from typing import Any, Callable, Hashable

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import models
from django.db.models.constraints import UniqueConstraint
from django.db.models.fields.related_descriptors import ForwardManyToOneDescriptor
from django.forms.models import InlineForeignKeyField
from django.forms.utils import ErrorDict

from jindu.core.imports.bulk import FormPool, _memoized, _model_field
from jindu.core.models.base import NormalizedTextModel, normalize_text_fields

#: Form internals a checked form class must take from Django (its own would be bypassed).
_DJANGO_INTERNALS = (
    "full_clean", "_clean_fields", "_clean_form", "is_valid", "errors", "add_error", "has_error",
    "_update_errors", "_get_validation_exclusions", "_widget_data_value", "_bound_items", "__getitem__",
)

#: Distinct values remembered per field (choice and boolean fields have a handful).
MEMO_LIMIT = 10_000


class _CompiledModelForm(forms.BaseModelForm):
    """Placed just above ``BaseModelForm`` in a checked form's class order, so that the form's
    own ``clean``/``_post_clean`` run and call down into the compiled steps."""

    _rowcheck_plan: "_Plan | None" = None

    def full_clean(self):
        plan = self._rowcheck_plan
        if plan is None:
            return super().full_clean()
        self._errors = ErrorDict(renderer=self.renderer)
        self.cleaned_data = {}
        plan.clean_fields(self)
        self._clean_form()
        self._post_clean()

    def _post_clean(self):
        plan = self._rowcheck_plan
        if plan is None:
            return super()._post_clean()
        plan.post_clean(self)


_checked_classes: dict[type, type] = {}


def _checked_class(form_class: type[forms.BaseModelForm]) -> type[forms.BaseModelForm]:
    cls = _checked_classes.get(form_class)
    if cls is None:
        cls = type(f"Checked{form_class.__name__}", (form_class, _CompiledModelForm),
                   {"__module__": form_class.__module__})
        _checked_classes[form_class] = cls
    return cls


def unsupported(form_class: type[forms.BaseModelForm], model: type[models.Model]) -> str | None:
    """Why ``form_class`` cannot be checked by the compiled plans (``None``: it can)."""
    for name in _DJANGO_INTERNALS:
        for klass in form_class.__mro__:
            if name in vars(klass):
                if not klass.__module__.startswith("django."):
                    return f"{klass.__name__}.{name} is the form's own"
                break
    # The form's own _post_clean/validate_unique run as they are (they call down into ours).
    if model.clean_fields not in (models.Model.clean_fields, NormalizedTextModel.clean_fields):
        return f"{model.__name__}.clean_fields is the model's own"
    return None


def _stock(obj: Any, *names: str) -> bool:
    """Whether each method ``names`` of ``type(obj)`` is Django's own."""
    return all(getattr(getattr(type(obj), n, None), "__module__", "").startswith("django.") for n in names)


def _memo_form_field(field: forms.Field) -> bool:
    """A form field whose ``clean`` depends on the value alone and has few distinct values."""
    return (isinstance(field, (forms.ChoiceField, forms.BooleanField))
            and not isinstance(field, forms.ModelChoiceField)
            and _stock(field, "clean", "to_python", "validate", "run_validators")
            and (not isinstance(field, forms.TypedChoiceField) or _stock(field, "_coerce")))


def _remembered(original: Callable[..., Any]) -> Callable[..., Any]:
    """``original(value, *rest)`` answered once per distinct value (and type: ``1`` and
    ``True`` are different cells) — for checks that read the value only; each answer
    hands out fresh errors, as a new call would."""
    seen: dict[Hashable, tuple[bool, Any]] = {}

    def clean(value: Any, *rest: Any) -> Any:
        try:
            key = (type(value), value)
            hit = seen.get(key)
        except TypeError:  # unhashable: no memo
            return original(value, *rest)
        if hit is None:
            try:
                hit = (True, original(value, *rest))
            except ValidationError as exc:
                hit = (False, exc.error_list)
            if len(seen) < MEMO_LIMIT:
                seen[key] = hit
        if hit[0]:
            return hit[1]
        raise ValidationError([ValidationError(e.message, code=e.code, params=e.params) for e in hit[1]])

    return clean


def _model_clean(field: models.Field) -> Callable[[Any, models.Model], Any]:
    """``field.clean``, remembered per value for Django's own choice and boolean fields (their
    ``clean`` reads the value only, not the instance)."""
    if not ((field.choices or isinstance(field, models.BooleanField)) and not field.is_relation
            and _stock(field, "clean", "to_python", "validate", "run_validators")):
        return field.clean
    return _remembered(field.clean)


class _Unsupported(Exception):
    pass


def _form_data_saver(model: type[models.Model], field: models.Field) -> Callable[[models.Model, Any], Any]:
    """``field.save_form_data``; for Django's own foreign key given ``None`` on an instance
    holding no related object, what its descriptor then does (the key's columns set to
    ``None``, ``None`` cached) — without the look-up that raises ``KeyError`` first."""
    save = field.save_form_data
    if type(field) is not models.ForeignKey or type(field).save_form_data is not models.Field.save_form_data \
            or type(model.__dict__.get(field.name)) is not ForwardManyToOneDescriptor:
        return save
    cache_name, attnames = field.cache_name, [lh.attname for lh, _rh in field.related_fields]

    def save_key(instance: models.Model, value: Any) -> None:
        fields_cache = instance._state.fields_cache
        if value is None and cache_name not in fields_cache:
            for attname in attnames:
                setattr(instance, attname, None)
            fields_cache[cache_name] = None
        else:
            save(instance, value)

    return save_key


def _value_reader(widget: forms.Widget) -> Callable[[Any, Any, str], Any]:
    """``widget.value_from_datadict``; for Django's own multiple select given a plain dict
    (an import row), the ``data.get(name)`` it falls back to once ``data.getlist`` raised
    ``AttributeError`` — without raising it for every row."""
    stock = widget.value_from_datadict
    if type(widget).value_from_datadict is not forms.SelectMultiple.value_from_datadict:
        return stock

    def value_of(data: Any, files: Any, name: str) -> Any:
        return data.get(name) if type(data) is dict else stock(data, files, name)

    return value_of


class _Plan:
    """The compiled steps for one bound form (one variant): built once, run per row."""

    def __init__(self, form: forms.BaseModelForm, model: type[models.Model], *, resolved_fks: set[str],
                 unique_pk_only: bool):
        if form.prefix or form.empty_permitted or form.files:
            raise _Unsupported("prefix, empty_permitted or files")
        meta, opts = model._meta, form._meta
        fields = form.fields
        self.fields = []
        for name, field in fields.items():
            if field.disabled or isinstance(field, (forms.FileField, InlineForeignKeyField)) \
                    or type(field)._clean_bound_field is not forms.Field._clean_bound_field:
                raise _Unsupported(f"field {name}")
            if isinstance(field, forms.ModelChoiceField):
                clean = _memoized(field)  # as FormPool remembers them
            elif _memo_form_field(field):
                clean = _remembered(field.clean)
            else:
                clean = field.clean
            hook = f"clean_{name}" if hasattr(form, f"clean_{name}") else None
            self.fields.append((name, _value_reader(field.widget), clean, hook))

        # _get_validation_exclusions: what never changes, and the per-row tests.
        self.static_exclude: set[str] = set()
        self.errors_exclude: list[str] = []
        self.empty_exclude: list[tuple[str, forms.Field]] = []
        for f in meta.fields:
            name = f.name
            if name not in fields or (opts.fields and name not in opts.fields) \
                    or (opts.exclude and name in opts.exclude):
                self.static_exclude.add(name)
                continue
            self.errors_exclude.append(name)
            if not f.blank and not fields[name].required:
                self.empty_exclude.append((name, fields[name]))
        self.resolved_fks = set(resolved_fks)
        self.unique_pk_only = unique_pk_only

        # construct_instance(form, instance, opts.fields, opts.exclude)
        self.construct = []
        for f in meta.fields:
            if not f.editable or isinstance(f, models.AutoField):
                continue
            if opts.fields is not None and f.name not in opts.fields:
                continue
            if opts.exclude and f.name in opts.exclude:
                continue
            if isinstance(f, models.FileField):
                raise _Unsupported(f"model file field {f.name}")
            omitted = None
            if f.has_default():
                field = fields.get(f.name)
                omitted = (field.widget.value_omitted_from_data, field.empty_values) if field is not None \
                    else (None, None)
            self.construct.append((f.name, omitted, _form_data_saver(model, f)))

        # Model.full_clean(exclude, validate_unique=False)
        self.normalize = issubclass(model, NormalizedTextModel)
        self.model_fields = [(f.name, f.attname, f.blank, f.empty_values, _model_clean(f))
                             for f in meta.fields if not f.generated and f.name not in self.static_exclude]
        self.model_clean = model.clean is not models.Model.clean
        constraints = [c for _cls, cs in model().get_constraints() for c in cs]
        self.constraints_checked = not all(
            type(c) is UniqueConstraint and c.fields and any(n in self.static_exclude for n in c.fields)
            for c in constraints)

    # -- per row ------------------------------------------------------------------------

    def clean_fields(self, form: forms.BaseModelForm) -> None:
        """``BaseForm._clean_fields``."""
        data, files, cleaned = form.data, form.files, form.cleaned_data
        for name, value_of, clean, hook in self.fields:
            try:
                cleaned[name] = clean(value_of(data, files, name))
                if hook is not None:
                    cleaned[name] = getattr(form, hook)()
            except ValidationError as e:
                form.add_error(name, e)

    def post_clean(self, form: forms.BaseModelForm) -> None:
        """``BaseModelForm._post_clean``, with ``FormPool``'s shortcuts."""
        cleaned, errors = form.cleaned_data, form._errors
        exclude = set(self.static_exclude)
        for name in self.errors_exclude:
            if name in errors:
                exclude.add(name)
        for name, field in self.empty_exclude:
            if name not in errors and cleaned.get(name) in field.empty_values:
                exclude.add(name)
        try:
            form.instance = self.construct_instance(form)
        except ValidationError as e:
            form._update_errors(e)
        try:
            self.full_clean(form.instance, exclude | self.resolved_fks)
        except ValidationError as e:
            form._update_errors(e)
        if form._validate_unique and not self.unique_pk_only:
            form.validate_unique()

    def construct_instance(self, form: forms.BaseModelForm) -> models.Model:
        instance, cleaned = form.instance, form.cleaned_data
        for name, omitted, save in self.construct:
            if name not in cleaned:
                continue
            if omitted is not None:
                value_omitted, empty_values = omitted
                if value_omitted is None:
                    form[name]  # Django's KeyError for a cleaned value the form has no field for
                if value_omitted(form.data, form.files, name) and cleaned.get(name) in empty_values:
                    continue
            save(instance, cleaned[name])
        return instance

    def full_clean(self, instance: models.Model, exclude: set[str]) -> None:
        """``Model.full_clean(exclude, validate_unique=False)``; ``exclude`` is kept."""
        errors: dict = {}
        try:
            self.clean_model_fields(instance, exclude)
        except ValidationError as e:
            errors = e.update_error_dict(errors)
        if self.model_clean:
            try:
                instance.clean()
            except ValidationError as e:
                errors = e.update_error_dict(errors)
        if self.constraints_checked:
            exclude = set(exclude)
            for name in errors:
                if name != NON_FIELD_ERRORS and name not in exclude:
                    exclude.add(name)
            try:
                instance.validate_constraints(exclude=exclude)
            except ValidationError as e:
                errors = e.update_error_dict(errors)
        if errors:
            raise ValidationError(errors)

    def clean_model_fields(self, instance: models.Model, exclude: set[str]) -> None:
        """``Model.clean_fields`` (with ``NormalizedTextModel``'s normalisation first)."""
        if self.normalize:
            normalize_text_fields(instance)
        errors = {}
        for name, attname, blank, empty_values, clean in self.model_fields:
            if name in exclude:
                continue
            raw = getattr(instance, attname)
            if blank and raw in empty_values:
                continue
            if isinstance(raw, models.expressions.DatabaseDefault):
                continue
            try:
                setattr(instance, attname, clean(raw, instance))
            except ValidationError as e:
                errors[name] = e.error_list
        if errors:
            raise ValidationError(errors)


class RowChecker:
    """Validate rows that create records with ``form_class``, as :class:`FormPool` does (same
    arguments, same contract: :meth:`validate` returns the bound form after validation — read
    ``errors``, ``cleaned_data`` and ``instance`` before the next call), through the compiled
    plans of the module docstring when the form class allows (:attr:`compiled`), else through
    the pool itself."""

    def __init__(self, form_class: type[forms.BaseModelForm], *, model: type[models.Model],
                 form_kwargs: dict | None = None, variant: Callable[[dict], Hashable] | None = None):
        self.pool = FormPool(form_class, model=model, form_kwargs=form_kwargs, variant=variant)
        self.model = model
        self.reason = unsupported(form_class, model)
        self.form_class = _checked_class(form_class) if self.reason is None else None
        self._forms: dict[Hashable, forms.BaseModelForm | None] = {}

    @property
    def compiled(self) -> bool:
        """Whether rows go through the compiled plans (``False``: all through ``FormPool``)."""
        return self.reason is None

    def validate(self, data: dict) -> forms.BaseModelForm:
        if self.reason is not None:
            return self.pool.validate(data)
        key = self.pool.variant(data)
        if key not in self._forms:
            self._forms[key] = self._build(data)
        form = self._forms[key]
        if form is None:  # this variant's form is beyond the plans
            return self.pool.validate(data)
        form.data = data
        form.instance = self.pool._new_instance()
        form._validate_unique = False
        form.full_clean()
        return form

    def _build(self, data: dict) -> forms.BaseModelForm | None:
        form = self.form_class(data=data, instance=self.model(), **self.pool.form_kwargs)
        resolved = set()
        for name, field in form.fields.items():
            model_field = _model_field(self.model, name)
            if (isinstance(field, forms.ModelChoiceField) and not isinstance(field, forms.ModelMultipleChoiceField)
                    and isinstance(model_field, models.ForeignKey) and not model_field.remote_field.limit_choices_to):
                resolved.add(name)
        try:
            form._rowcheck_plan = _Plan(form, self.model, resolved_fks=resolved,
                                        unique_pk_only=self.pool.unique_pk_only)
        except _Unsupported:
            return None
        return form
