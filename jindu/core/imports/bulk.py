"""Helpers for bulk importers (:attr:`Importer.bulk_rows <jindu.core.imports.base.Importer.bulk_rows>`):
validating many new records' rows with the importer's own form, cheaply.

Building a Django form costs more than validating it: every form deep-copies its fields,
and a ``ModelChoiceField`` queries its queryset for each value, as does the model's
``ForeignKey.validate``. For a 100,000-row file that is most of the import's time.
:class:`FormPool` keeps the checks and removes the repetition:

- one bound form per *variant* (what the form's construction depends on, e.g. the row's
  document type) is built with the importer's form kwargs and then re-bound to each row's
  data with a fresh, unsaved model instance — the form's own ``clean_*``/``clean`` and the
  model's ``full_clean`` run for every row exactly as for a new form;
- each ``ModelChoiceField``/``ModelMultipleChoiceField`` remembers, per distinct value, the
  record(s) it resolved or the error it raised (same queryset, same answer, within one run);
- the model's re-check that a foreign key resolved by such a field exists is skipped: the
  field's queryset is a subset of what that check queries (fields with ``limit_choices_to``
  keep the check). Uniqueness checks are not affected, except that models whose only
  unique value is the primary key skip them (a new record has none yet: Django's check
  finds nothing to compare).

Only for rows that *create* records and forms whose ``__init__`` depends on nothing but
the kwargs, the variant and the (new, unsaved) instance.

:func:`insert_rows` then writes the validated records of a batch, with their row history,
in a few statements.
"""

from __future__ import annotations

import datetime as dt
from collections import deque
from contextlib import nullcontext
from typing import Any, Callable, Hashable, Sequence

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.backends.base.operations import BaseDatabaseOperations
from django.db.models import signals

from jindu.core.imports.pipeline import copy_rows, deferred


def _memoized(field: forms.Field) -> Callable[[Any], Any]:
    """``field.clean`` answering each distinct value once."""
    original = field.clean
    seen: dict[Hashable, tuple[bool, Any]] = {}

    def clean(value: Any) -> Any:
        key = tuple(value) if isinstance(value, (list, tuple)) else value
        try:
            hit = seen.get(key)
        except TypeError:  # unhashable: no memo
            return original(value)
        if hit is None:
            try:
                hit = (True, original(value))
            except ValidationError as exc:
                hit = (False, exc)
            seen[key] = hit
        if hit[0]:
            return hit[1]
        raise ValidationError(hit[1].error_list if hasattr(hit[1], "error_list") else hit[1].messages)

    return clean


_pooled_classes: dict[type, type] = {}


def _pooled_class(form_class: type[forms.BaseModelForm]) -> type[forms.BaseModelForm]:
    cls = _pooled_classes.get(form_class)
    if cls is not None:
        return cls

    def _get_validation_exclusions(self):
        exclude = super(cls, self)._get_validation_exclusions()
        # The first call of a validation is the one for the model's full_clean (ModelForm.
        # _post_clean); later ones (validate_unique) keep Django's exclusions.
        if getattr(self, "_pool_first_exclusions", False):
            self._pool_first_exclusions = False
            exclude = set(exclude) | self._pool_resolved_fks
        return exclude

    def validate_unique(self):
        # A new record's only unique value is its unset primary key: nothing to check.
        if not getattr(self, "_pool_unique_pk_only", False):
            super(cls, self).validate_unique()

    cls = type(f"Pooled{form_class.__name__}", (form_class,), {
        "_get_validation_exclusions": _get_validation_exclusions,
        "validate_unique": validate_unique,
        "__module__": form_class.__module__,
    })
    _pooled_classes[form_class] = cls
    return cls


class FormPool:
    """Validate rows that create records with ``form_class`` (see the module docstring).

    ``form_kwargs``: extra keyword arguments of the form (as :meth:`Importer.get_form_kwargs`
    gives for a new instance); ``model``: the form's model; ``variant(data)``: hashable
    summary of what the form's construction reads from ``data`` (``None``: nothing).

    :meth:`validate` returns the bound form after ``is_valid()``: read ``errors`` or
    ``cleaned_data`` and ``instance`` before the next call, which re-binds it.
    """

    def __init__(self, form_class: type[forms.BaseModelForm], *, model: type[models.Model],
                 form_kwargs: dict | None = None, variant: Callable[[dict], Hashable] | None = None):
        self.form_class = _pooled_class(form_class)
        self.model = model
        self.form_kwargs = dict(form_kwargs or {})
        self.variant = variant or (lambda data: None)
        self._forms: dict[Hashable, forms.BaseModelForm] = {}
        self._make: Callable[..., models.Model] | None = None
        unique, dates = model()._get_unique_checks()
        pk = model._meta.pk.name
        self.unique_pk_only = not dates and all(tuple(fields) == (pk,) for _cls, fields in unique)

    def validate(self, data: dict) -> forms.BaseModelForm:
        key = self.variant(data)
        form = self._forms.get(key)
        if form is None:
            form = self.form_class(data=data, instance=self.model(), **self.form_kwargs)
            resolved = set()
            for name, field in form.fields.items():
                if isinstance(field, forms.ModelChoiceField):
                    field.clean = _memoized(field)
                    model_field = _model_field(self.model, name)
                    if (not isinstance(field, forms.ModelMultipleChoiceField) and model_field is not None
                            and isinstance(model_field, models.ForeignKey)
                            and not model_field.remote_field.limit_choices_to):
                        resolved.add(name)
            form._pool_resolved_fks = resolved
            form._pool_unique_pk_only = self.unique_pk_only
            self._forms[key] = form
        else:
            form.data = data
            form.instance = self._new_instance()
            form._errors = None
            form._validate_unique = False
        form._pool_first_exclusions = True
        form.is_valid()
        return form

    def _new_instance(self) -> models.Model:
        """What ``self.model()`` returns, at a fraction of its cost (:func:`instance_maker`)."""
        if self._make is None:
            self._make = instance_maker(self.model)
        return self._make()


def instance_maker(model: type[models.Model]) -> Callable[..., models.Model]:
    """A function doing what ``model(**values)`` does, at a fraction of its cost, for code
    building many instances: a copy of a blank instance with its own state and its
    per-instance defaults computed afresh (the model's ``__init__`` would set every field's
    default one by one), then each value set as ``__init__`` sets it (``setattr`` by field
    name — a related object through its descriptor — or by ``attname``). Values named
    otherwise, and models with ``pre_init``/``post_init`` receivers, go through ``model``
    itself."""
    if signals.pre_init.has_listeners(model) or signals.post_init.has_listeners(model):
        return model
    blank = model()
    fields = [f for f in model._meta.concrete_fields if f.column is not None and not f.generated]
    names = {f.name for f in fields} | {f.attname for f in fields}
    computed = [f for f in fields if f.has_default() and callable(f.default)]
    state = models.base.ModelState
    base = dict(blank.__dict__)
    base.pop("_state", None)
    new = model.__new__

    def make(**values: Any) -> models.Model:
        if values and not names.issuperset(values):
            return model(**values)
        obj = new(model)
        obj.__dict__.update(base)
        obj._state = state()
        for field in computed:
            obj.__dict__[field.attname] = field.get_default()
        for name, value in values.items():
            setattr(obj, name, value)
        return obj

    return make


def _model_field(model: type[models.Model], name: str) -> models.Field | None:
    try:
        return model._meta.get_field(name)
    except Exception:
        return None


# -- inserting many rows ------------------------------------------------------------------

#: Bound parameters per INSERT statement (below SQLite's and PostgreSQL's limits).
MAX_PARAMS = 30_000


def _max_params() -> int:
    from django.db import connection

    if connection.vendor == "sqlite":
        import sqlite3

        connection.ensure_connection()
        try:
            return min(MAX_PARAMS, connection.connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) - 1)
        except AttributeError:  # Python < 3.11
            return connection.features.max_query_params
    return MAX_PARAMS


def reserve_keys(counts: Sequence[tuple[type[models.Model], int]]) -> dict[type[models.Model], list[int]] | None:
    """Take ``n`` new primary keys of each ``(model, n)`` from its sequence, in one
    statement: ``{model: ascending keys}``, for :func:`insert_rows`' ``keys`` — so a bulk
    write that then hands its rows to the import's writer thread
    (:func:`jindu.core.imports.pipeline.queued`) has nothing left to wait for. ``None`` on
    databases without sequences (SQLite returns the keys of a multi-row insert)."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return None
    counts = [(model, n) for model, n in counts if n > 0]
    if not counts:
        return {}
    with connection.cursor() as cursor:
        cursor.execute(*_reserve_sql(counts))
        row = cursor.fetchone()
    return {model: sorted(keys) for (model, _n), keys in zip(counts, row)}


def _reserve_sql(counts: Sequence[tuple[type[models.Model], int]]) -> tuple[str, list]:
    from django.db import connection

    parts, params = [], []
    for model, n in counts:
        parts.append("ARRAY(SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s))")
        params += [connection.ops.quote_name(model._meta.db_table), model._meta.pk.column, n]
    return "SELECT " + ", ".join(parts), params


class KeyPool:
    """Primary keys taken ahead for a bulk import that knows, before a batch, how many
    records of each model it writes at most (PostgreSQL; elsewhere :meth:`take` returns
    ``None``). :meth:`reserve` hands the next batch's reservation to the import's writer
    (:func:`jindu.core.imports.pipeline.query`), so the batch takes its keys (:meth:`take`)
    without a statement that would wait for the writer; the keys a batch leaves are used by
    the next, and what is left at the end stays unused — a gap in the sequence, as a
    rolled-back insert leaves."""

    def __init__(self) -> None:
        self.keys: dict[type[models.Model], deque] = {}
        self.coming: tuple[list, Any] | None = None

    def reserve(self, counts: Sequence[tuple[type[models.Model], int]]) -> None:
        """Have at least ``n`` keys of each ``(model, n)`` ready for the next :meth:`take`."""
        from django.db import connection

        from jindu.core.imports.pipeline import query

        if connection.vendor != "postgresql":
            return
        self._collect()
        need = [(model, n - len(self.keys.get(model, ()))) for model, n in counts]
        need = [(model, n) for model, n in need if n > 0]
        if need:
            self.coming = ([model for model, _n in need], query(*_reserve_sql(need)))

    def take(self, counts: Sequence[tuple[type[models.Model], int]]) -> dict[type[models.Model], list[int]] | None:
        """``n`` ascending keys of each ``(model, n)``: reserved ones first, then (if short)
        new ones taken now (:func:`reserve_keys`). ``None`` where the database returns the
        keys of an insert."""
        from django.db import connection

        if connection.vendor != "postgresql":
            return None
        self._collect()
        short = [(model, n - len(self.keys.get(model, ()))) for model, n in counts]
        for model, keys in (reserve_keys([(m, n) for m, n in short if n > 0]) or {}).items():
            self.keys.setdefault(model, deque()).extend(keys)
        out = {}
        for model, n in counts:
            held = self.keys.get(model, deque())
            out[model] = [held.popleft() for _ in range(n)]
        return out

    def _collect(self) -> None:
        if self.coming is not None:
            models_, result = self.coming
            self.coming = None
            for model, keys in zip(models_, result.rows()[0]):
                self.keys.setdefault(model, deque()).extend(sorted(keys))


def _insert(table: str, columns: list[str], rows: list[list[Any]], *, returning: str | None = None,
            keys: list[Any] | None = None) -> list[Any]:
    """Insert already prepared ``rows``; the ``returning`` (auto primary key) column's new
    values, in row order (which Django's ``bulk_create`` relies on too).

    PostgreSQL: the keys are taken from the column's sequence first (or are the ``keys``
    given, from :func:`reserve_keys` or a :class:`KeyPool`; other databases ignore them) and
    the rows sent with
    ``COPY`` (:func:`jindu.core.imports.pipeline.copy_rows`: kept for the import's writer
    thread inside a ``deferred`` block; a multi-row ``INSERT`` would be re-parsed by
    psycopg's client-side binding, which costs more than the insert). SQLite: multi-row
    ``INSERT … RETURNING`` statements of up to :data:`MAX_PARAMS` values.
    """
    from django.db import connection

    if not rows:
        return []
    quote = connection.ops.quote_name
    if connection.vendor == "postgresql":
        if keys is not None:
            if len(keys) != len(rows):
                raise ValueError(f"{len(keys)} keys reserved for {len(rows)} rows of {table}")
        elif returning:
            with connection.cursor() as cursor:
                cursor.execute("SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                               [quote(table), returning, len(rows)])
                keys = sorted(r[0] for r in cursor.fetchall())
        else:
            keys = []
        if returning:
            columns = [returning, *columns]
            rows = [[key, *row] for key, row in zip(keys, rows)]
        copy_rows(table, columns, rows)
        return keys
    head = f"INSERT INTO {quote(table)} ({', '.join(quote(c) for c in columns)}) VALUES "
    tail = f" RETURNING {quote(returning)}" if returning else ""
    one = "(" + ", ".join(["%s"] * len(columns)) + ")"
    per = max(1, _max_params() // len(columns))
    out: list[Any] = []
    with connection.cursor() as cursor:
        for start in range(0, len(rows), per):
            chunk = rows[start:start + per]
            cursor.execute(head + ", ".join([one] * len(chunk)) + tail, [v for row in chunk for v in row])
            if returning:
                out.extend(r[0] for r in cursor.fetchall())
    return out


def insert_rows(objs: list[models.Model], *, history_user: Any = None, history: bool | None = None,
                defer_history: bool = False, keys: list[int] | None = None) -> list:
    """Insert the unsaved ``objs`` (all of one model, primary key unset) — and, for a model
    with django-simple-history, their ``+`` history rows — and return them with their
    primary keys: what ``simple_history.utils.bulk_create_with_history(objs, model,
    default_user=history_user)`` (or ``bulk_create`` without history) writes.

    Each value goes through the field's ``pre_save`` and ``get_db_prep_save`` as in
    ``bulk_create`` (timestamps, normalisation, encryption, blind indexes); what is saved
    is the SQL: one multi-row statement per few thousand values instead of Django's
    per-value SQL compilation (and, on SQLite, its 999-parameter statements), and history
    rows built from the very values just inserted instead of a model instance each. No
    signals are sent (``bulk_create`` sends none either). Call inside a transaction.

    ``defer_history``: write the history rows in a :func:`~jindu.core.imports.pipeline.deferred`
    block (for a bulk import whose batch reads nothing of them afterwards). ``keys``: the
    primary keys to give the records, from :func:`reserve_keys` (PostgreSQL; ignored where
    the keys come back from the insert).

    Falls back to the Django/simple-history helpers when the database cannot return the
    new keys from a multi-row insert, or the history model has fields not known here.
    """
    from django.db import DEFAULT_DB_ALIAS, connections
    from django.utils import timezone
    from simple_history.utils import bulk_create_with_history, get_history_manager_for_model

    if not objs:
        return []
    # The connection itself, not django.db.connection: every attribute read through that
    # proxy is a thread-local look-up, and the values below read it thousands of times.
    connection = connections[DEFAULT_DB_ALIAS]
    model = type(objs[0])
    meta = model._meta
    try:
        history_model = get_history_manager_for_model(model).model
    except Exception:
        history_model = None
    if history is None:
        history = history_model is not None
    pk = meta.pk
    if not connection.features.can_return_rows_from_bulk_insert or not getattr(pk, "db_returning", False) \
            or any(obj.pk is not None for obj in objs):
        if history:
            return bulk_create_with_history(objs, model, default_user=history_user)
        return model._default_manager.bulk_create(objs)
    fields = [f for f in meta.concrete_fields if f is not pk]
    history_plan = _history_plan(history_model, fields, pk) if history else None
    if history and history_plan is None:
        return bulk_create_with_history(objs, model, default_user=history_user)

    # One clock reading for the whole call: the auto_now(_add) timestamps of the records and
    # the date of their history rows (bulk_create would read the clock once per record).
    now = timezone.now()
    preps = [_value_prep(f, connection, now) for f in fields]
    rows = []
    for obj in objs:
        obj._prepare_related_fields_for_save(operation_name="bulk_create")
        rows.append([prep(obj) for prep in preps])
    keys = _insert(meta.db_table, [f.column for f in fields], rows, returning=pk.column, keys=keys)
    for obj, key in zip(objs, keys, strict=True):
        setattr(obj, pk.attname, key)
        obj._state.adding = False
        obj._state.db = connection.alias

    if history:
        columns, sources = history_plan
        history_date = history_model._meta.get_field("history_date").get_db_prep_save(now, connection)
        user_id = getattr(history_user, "pk", None)
        constants = {"history_date": history_date, "history_change_reason": None, "history_type": "+",
                     "history_user_id": user_id}
        history_rows = []
        for obj, row in zip(objs, rows):
            history_rows.append([
                row[source] if isinstance(source, int) else (obj.pk if source == "pk" else constants[source])
                for source in sources
            ])
        with deferred() if defer_history else nullcontext():
            _insert(history_model._meta.db_table, columns, history_rows)
    return objs


class PlannerStatistics:
    """Keep PostgreSQL's planner statistics of a table that a bulk import grows.

    Autovacuum cannot see rows an open transaction inserted, so during a 100,000-row import
    the planner keeps the statistics of the table as it was — empty, say — and answers the
    import's own look-ups (numbers registered, near duplicates, the scope re-check) with
    sequential scans that grow with every batch (measured: 24–28 ms per look-up at 100,000
    people against 3 ms through the index). :meth:`wrote` counts the rows written and runs
    ``ANALYZE`` (which samples the transaction's own rows; its statistics are committed or
    rolled back with the import) each time the rows written since the last analysis reach
    the table's size then, and at least :attr:`MIN_ROWS`: a few analyses per import, each a
    sample of at most 30,000 rows. Does nothing on other databases (SQLite plans without
    statistics unless ``ANALYZE`` was run by hand).

    ``ANALYZE`` inside a transaction keeps its lock on the table until the import ends, and
    that lock excludes another analysis: a second import running meanwhile does not wait for
    it (it could deadlock with the first over a number both insert) — it tries for
    :attr:`LOCK_WAIT` and goes on with the statistics it has.
    """

    MIN_ROWS = 5_000
    #: How long an analysis waits for the table's lock before it is skipped (PostgreSQL ``lock_timeout``).
    LOCK_WAIT = "100ms"

    def __init__(self, model: type[models.Model]):
        from django.db import connection

        self.table = model._meta.db_table
        self.enabled = connection.vendor == "postgresql"
        self.size = 0
        self.pending = 0
        if self.enabled:
            with connection.cursor() as cursor:
                cursor.execute("SELECT reltuples FROM pg_class WHERE oid = to_regclass(%s)", [self.table])
                row = cursor.fetchone()
            self.size = max(int(row[0]), 0) if row else 0  # reltuples: an estimate, -1 if never analysed

    def wrote(self, rows: int) -> bool:
        """Count ``rows`` written to the table; ``True`` when this call analysed it."""
        if not self.enabled:
            return False
        from django.db import connection

        from django.db import OperationalError, transaction

        self.pending += rows
        if self.pending < max(self.size, self.MIN_ROWS):
            return False
        try:
            with transaction.atomic(), connection.cursor() as cursor:  # a savepoint: a refused lock undoes only this
                cursor.execute("SELECT current_setting('lock_timeout'), set_config('lock_timeout', %s, true)",
                               [self.LOCK_WAIT])
                previous = cursor.fetchone()[0]
                cursor.execute(f"ANALYZE {connection.ops.quote_name(self.table)}")
                cursor.execute("SELECT set_config('lock_timeout', %s, true)", [previous])
        except OperationalError as exc:
            if getattr(exc.__cause__, "sqlstate", None) != "55P03":  # lock_not_available: another import holds it
                raise
            return False
        self.size += self.pending
        self.pending = 0
        return True


def insert_links(relation: models.ManyToManyField, pairs: list[tuple[int, int]]) -> None:
    """Insert the rows of ``relation``'s auto-created many-to-many table (no history, no
    signals: what ``bulk_create`` of its through model writes) for ``pairs`` of (source,
    target) primary keys, in a few statements. Raises ``ValueError`` for a relation with an
    explicit through model (its rows may carry more; use :func:`insert_rows`). Call inside
    a transaction; a duplicate pair raises ``IntegrityError``."""
    through = relation.remote_field.through
    if not through._meta.auto_created:
        raise ValueError(f"{relation} has an explicit through model")
    if pairs:
        _insert(through._meta.db_table, [relation.m2m_column_name(), relation.m2m_reverse_name()],
                [[source, target] for source, target in pairs])


_UNSET = object()


def _stock(field: models.Field, *methods: tuple[type, str]) -> bool:
    """Whether ``field`` uses Django's own implementation of each ``(class, method)``."""
    return all(getattr(type(field), name) is getattr(cls, name) for cls, name in methods)


def _value_prep(field: models.Field, connection: Any, now: dt.datetime) -> Callable[[models.Model], Any]:
    """``obj -> field.get_db_prep_save(field.pre_save(obj, True), connection)``, as
    ``bulk_create`` computes each value, with a shortcut for the values those calls return
    unchanged: ``str`` (or ``None``) in Django's own character fields, ``int`` in its integer
    fields and in foreign keys to auto-increment keys (on backends that pass integers
    through, as SQLite and PostgreSQL do), ``bool`` in its boolean fields, ``date`` (or ``None``)
    in its plain date fields and aware datetimes in its datetime fields (the backend's
    ``adapt_date(time)field_value``). Django's own ``auto_now``/``auto_now_add`` datetime
    fields take ``now`` (set on the record, as ``pre_save`` sets it), adapted once. Everything else —
    custom fields (encryption, blind indexes, normalisation), dates, JSON, other types —
    takes the full path."""
    attname = field.attname

    def full(obj: models.Model) -> Any:
        return field.get_db_prep_save(field.pre_save(obj, True), connection)

    base = (models.Field, "pre_save"), (models.Field, "get_db_prep_save"), (models.Field, "get_db_prep_value")
    ops = type(connection.ops)
    # The backend passes integers through unchanged (SQLite and PostgreSQL do).
    ints_as_is = (ops.adapt_integerfield_value is BaseDatabaseOperations.adapt_integerfield_value
                  and ops.validate_autopk_value is BaseDatabaseOperations.validate_autopk_value)
    auto_key = ((models.Field, "pre_save"), (models.Field, "get_db_prep_save"),
                (models.fields.AutoFieldMixin, "get_db_prep_value"), (models.IntegerField, "get_prep_value"))
    if isinstance(field, models.ForeignKey):
        target = field.target_field
        if not ints_as_is or not _stock(field, (models.Field, "pre_save"), (models.ForeignKey, "get_db_prep_save")) \
                or not isinstance(target, (models.AutoField, models.BigAutoField)) or not _stock(target, *auto_key):
            return full
        kinds: tuple = (int,)
    elif isinstance(field, (models.CharField, models.TextField)) and not isinstance(field, models.EmailField):
        own = models.CharField if isinstance(field, models.CharField) else models.TextField
        if not _stock(field, *base, (own, "get_prep_value"), (own, "to_python")):
            return full
        kinds = (str,)
    elif isinstance(field, models.BooleanField):
        if not _stock(field, *base, (models.BooleanField, "get_prep_value"), (models.BooleanField, "to_python")):
            return full
        kinds = (bool,)
    elif type(field) is models.DateField and not (field.auto_now or field.auto_now_add):
        # DateField.get_db_prep_save of a date (or None) is the backend's adaptation of it.
        adapt = connection.ops.adapt_datefield_value

        def fast(obj: models.Model) -> Any:
            value = obj.__dict__.get(attname, _UNSET)
            if value is None or type(value) is dt.date:
                return adapt(value)
            return full(obj)

        return fast
    elif type(field) is models.DateTimeField and settings.USE_TZ and (field.auto_now or field.auto_now_add):
        stamped = connection.ops.adapt_datetimefield_value(now)

        def stamp(obj: models.Model) -> Any:
            obj.__dict__[attname] = now
            return stamped

        return stamp
    elif type(field) is models.DateTimeField and settings.USE_TZ:
        # An aware datetime (auto_now's timezone.now(), or one set) is what get_prep_value
        # returns unchanged: the backend's adaptation of it.
        adapt = connection.ops.adapt_datetimefield_value
        pre_save = field.pre_save

        def fast_datetime(obj: models.Model) -> Any:
            value = pre_save(obj, True)
            if type(value) is dt.datetime and value.utcoffset() is not None:
                return adapt(value)
            return field.get_db_prep_save(value, connection)

        return fast_datetime
    elif isinstance(field, models.IntegerField) and not isinstance(field, models.fields.AutoFieldMixin):
        if not ints_as_is or not _stock(field, (models.Field, "pre_save"), (models.Field, "get_db_prep_save"),
                                        (models.IntegerField, "get_db_prep_value"),
                                        (models.IntegerField, "get_prep_value")):
            return full
        kinds = (int,)
    else:
        return full

    def fast(obj: models.Model) -> Any:
        value = obj.__dict__.get(attname, _UNSET)
        if value is None or type(value) in kinds:
            return value
        return full(obj)  # also for a deferred (unset) attribute

    return fast


def _history_plan(history_model: Any, fields: list, pk: Any) -> tuple[list[str], list] | None:
    """History table columns and where each value comes from: the index of the record's
    prepared value, ``"pk"``, or a history field name; ``None`` for an unknown field."""
    by_attname = {f.attname: i for i, f in enumerate(fields)}
    columns, sources = [], []
    for f in history_model._meta.concrete_fields:
        if f.primary_key:
            continue  # history_id: assigned by the database
        if f.attname == pk.attname:
            sources.append("pk")
        elif f.attname in by_attname:
            sources.append(by_attname[f.attname])
        elif f.attname in ("history_date", "history_change_reason", "history_type", "history_user_id"):
            sources.append(f.attname)
        else:
            return None
        columns.append(f.column)
    return columns, sources
