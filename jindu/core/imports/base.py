"""The importer declaration and the registry the generic import views look importers up in."""

from __future__ import annotations

from typing import Any, Sequence

from django import forms
from django.db import models
from django.utils.module_loading import autodiscover_modules

from jindu.core.imports.columns import Column
from jindu.core.models import VersionedModel
from jindu.core.scope import ADD, CHANGE, has_model_permission


class Importer:
    """What one kind of spreadsheet import writes and how. Subclass and declare:

    - ``name``: registry key, ``"<app>.<thing>"`` (``"org.unit"``); stored on the batch.
    - ``label``: Chinese name of the records (``_("单位")``).
    - ``model``: the scoped model written (declares ``scope_division_path``).
    - ``form_class``: the form manual entry uses (a ``ModelForm`` of ``model``); every row
      is validated by it. Its fields not covered by ``columns`` keep their current value
      on update and their initial value on create.
    - ``columns``: the :class:`~jindu.core.imports.columns.Column` list, in template order.
    - ``key_fields``: form fields identifying a record (``("division", "name")``): rows of
      one file sharing a key are all refused as duplicates; a row whose key matches a row
      the user may change updates it, otherwise a row is created.
    - ``personal_data``: the records hold personal data (imports write an access log).

    Override :meth:`get_form_kwargs` when the form needs more (the user, say),
    :meth:`save` when a row needs more than ``form.save()`` (a service call), and
    :meth:`key_of` when key values need normalising before comparison.

    Bulk writes: an importer whose rows are written together (a stock ledger posted
    through one balance-locking service call) returns ``None`` from :meth:`save`, keeping
    the validated row, and writes all rows in :meth:`finish`. An instance serves one run
    (:func:`get_importer` makes a new one per call), so it may keep such state.

    Batches: an importer that validates and writes many rows more cheaply together (one
    look-up and one insert per batch instead of per row) sets :attr:`bulk_rows` and
    implements :meth:`process_rows`; the engine then hands it the rows in lists.
    """

    name: str = ""
    label: Any = ""
    model: type[models.Model]
    form_class: type[forms.BaseModelForm]
    columns: Sequence[Column] = ()
    key_fields: tuple[str, ...] = ()
    personal_data: bool = False
    #: The spreadsheet row being processed; set by the engine before each row's hooks run.
    row_number: int | None = None
    #: The :class:`~jindu.core.models.ImportBatch` being committed, when the run is a
    #: batch commit (set by :func:`jindu.core.imports.services.commit_batch`).
    batch: Any = None
    #: Rows per :meth:`process_rows` call; 0 (default): rows are processed one at a time.
    bulk_rows: int = 0

    # -- declaration helpers ---------------------------------------------------------

    def column_for(self, field: str) -> Column | None:
        return next((c for c in self.columns if c.field == field), None)

    def column_required(self, column: Column) -> bool:
        if column.required is not None:
            return column.required
        form_field = self.form_class.base_fields.get(column.field)
        return bool(form_field and form_field.required)

    def may_import(self, user: Any) -> bool:
        """Whether any role of ``user`` may add or change ``model`` (the upload page's 403)."""
        return has_model_permission(user, self.model, ADD) or has_model_permission(user, self.model, CHANGE)

    # -- per-row hooks -----------------------------------------------------------------

    def get_form_kwargs(self, *, user: Any, instance: models.Model) -> dict:
        """Extra keyword arguments for ``form_class`` (besides ``data`` and ``instance``);
        ``instance`` is unsaved (``pk is None``) when the row creates a record."""
        return {}

    def key_of(self, values: dict[str, Any]) -> tuple | None:
        """The row's identity from its parsed column values; ``None`` if incomplete.

        Model instances count by primary key; text is compared exactly (columns have
        already stripped surrounding whitespace).
        """
        if not self.key_fields:
            return None
        key = []
        for f in self.key_fields:
            v = values.get(f)
            if v is None or v == "":
                return None
            key.append(v.pk if isinstance(v, models.Model) else v)
        return tuple(key)

    def key_lookup(self, values: dict[str, Any]) -> dict[str, Any]:
        """Filter kwargs finding the existing record for a complete key."""
        return {f: values[f] for f in self.key_fields}

    def match_queryset(self, *, user: Any) -> models.QuerySet:
        """Existing rows a row may update: those the user may change."""
        return self.model._default_manager.restrict(user, CHANGE)

    def find_existing(self, values: dict[str, Any], *, user: Any, lock: bool = False) -> models.Model | None:
        """The record this row updates, or ``None`` to create one. ``lock`` takes a row lock
        (``SELECT … FOR UPDATE`` on the model's own table) for the commit."""
        if not self.key_fields:
            return None
        qs = self.match_queryset(user=user).filter(**self.key_lookup(values)).order_by("pk")
        if lock:
            qs = qs.select_for_update(of=("self",))
        found = list(qs[:2])
        return found[0] if len(found) == 1 else None

    def save(self, form: forms.BaseModelForm, *, user: Any, created: bool) -> models.Model | None:
        """Write one validated row; called inside the import's transaction.

        Default: ``form.save()`` with the history entry attributed to ``user`` and the
        edit version incremented on update (:class:`~jindu.core.models.VersionedModel`).
        The engine re-checks the scope after this returns. Returning ``None`` defers the
        write to :meth:`finish` (the importer then re-checks the scope itself).
        """
        obj = form.save(commit=False)
        obj._history_user = user
        if not created and isinstance(obj, VersionedModel):
            obj.version += 1
        obj.save()
        form.save_m2m()
        return obj

    def process_rows(self, rows: Sequence[Any], *, user: Any, commit: bool, fallback: Any) -> list[Any]:
        """Validate and write a list of rows together (only when :attr:`bulk_rows` > 0).

        ``rows``: :class:`~jindu.core.imports.engine.PendingRow` objects whose cells all
        parsed and which are no in-file duplicates, in file order. Returns one
        :class:`~jindu.core.imports.engine.RowOutcome` per row, in the same order, with the
        same actions and messages the row-by-row path would give. ``fallback(row)`` runs
        that row-by-row path for one row (form, :meth:`save`, scope re-check), e.g. for
        rows that update existing records.

        ``commit=True``: called inside the import's transaction; write the rows (an error
        in any row rolls everything back at the end). ``commit=False`` (preview): called
        outside any transaction; validate without writing (``fallback`` rolls its own
        writes back). Default: ``fallback`` for each row.
        """
        return [fallback(row) for row in rows]

    def look_ahead(self, rows: Sequence[Any], *, user: Any) -> None:
        """In a bulk commit, after :meth:`process_rows` wrote a batch: the next batch's
        ``rows`` (parsed :class:`~jindu.core.imports.engine.PendingRow` objects, errors and
        in-file duplicates included), for the read queries :meth:`process_rows` will need
        for them. Run now, they leave the next batch's validation free of queries, so the
        batch's deferred writes (:mod:`jindu.core.imports.pipeline`) are sent meanwhile
        instead of being waited for. What is read here must not depend on those deferred
        writes. Default: nothing."""

    def finish(self, *, user: Any, commit: bool, result: Any) -> None:
        """Called once after every row has been processed, with the
        :class:`~jindu.core.imports.engine.ImportResult` so far.

        In the commit it runs inside the import's transaction, before the all-or-nothing
        decision: errors added here (``result.add_error(row, column, message)``, with
        ``result.error_rows`` counted) roll every row back. In the preview it runs in a
        transaction of its own that is always rolled back, so it may write to find out
        what the commit would refuse. Importers that defer their writes (:meth:`save`
        returning ``None``) write here; notes for the user go to ``result.warnings``.
        Default: nothing.
        """


_registry: dict[str, type[Importer]] = {}
_discovered = False


def register(importer_class: type[Importer]) -> type[Importer]:
    """Class decorator: make an importer reachable by name (generic views, jobs).

    Importers live in an app's ``importers.py``, which is discovered on first look-up.
    """
    if not importer_class.name:
        raise ValueError(f"{importer_class.__name__} must declare a name")
    _registry[importer_class.name] = importer_class
    return importer_class


def get_importer(name: str) -> Importer:
    """An instance of the importer registered as ``name``. Raises ``LookupError``."""
    global _discovered
    if name not in _registry and not _discovered:
        autodiscover_modules("importers")
        _discovered = True
    try:
        return _registry[name]()
    except KeyError:
        raise LookupError(name) from None
