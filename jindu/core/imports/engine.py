"""Running an importer over a table: map headers, parse cells, validate rows with the
importer's form, find duplicates, and write all rows in one transaction — or none.

The same code path serves the preview and the commit: :func:`prepare_import` maps the
headers; :func:`apply_import` reads the rows as they stream from the file
(:func:`jindu.core.imports.readers.open_table`), parses their cells, finds in-file
duplicates, validates each row with the importer's form and writes it. Only a chunk of
rows is in memory at a time (plus one small entry per key for the duplicate check), so a
100,000-row file costs what a 1,000-row one does.

In-file duplicates (rows sharing the importer's key) are all refused, each naming the
others. They are found in the same single pass: a later row with a key already seen is
refused at once; the first row of the key was already processed, and its outcome is
withdrawn when the pass ends (see :class:`_Run`). Errors end up in row order.

The preview runs the writes too, so it reports what the commit will do (created /
updated / unchanged, scope refusals, database constraint errors) without leaving anything
behind: rows are written in chunks of :data:`PREVIEW_CHUNK`, each chunk in its own short
transaction that is always rolled back, with ``progress`` called between chunks — outside
any transaction the engine opened, so a job's progress is committed and visible, and on
SQLite other users can write between chunks instead of waiting minutes for the database
lock. Because each chunk is rolled back before the next, a database constraint that two
rows of *different* chunks would break together (beyond the importer's key, which is
checked file-wide) is found by the commit, not the preview; the commit then writes nothing.

Bulk importers (:attr:`Importer.bulk_rows <jindu.core.imports.base.Importer.bulk_rows>`)
receive the rows in lists and validate and write each list together
(:meth:`~jindu.core.imports.base.Importer.process_rows`): their preview validates
without writing (no transaction, no pauses), their commit writes in batches.

The commit runs the same steps again on the current database state in one transaction and
rolls back if a single row fails (DESIGN.md "Input": all-or-nothing). Its ``progress``
calls happen inside that transaction; :class:`jindu.core.jobs.JobReporter` writes them
through a separate connection (see there; not possible on SQLite).

Errors are dicts ``{"row": int | None, "column": str, "message": str}`` with the
spreadsheet's row number (``None`` for file-level errors) and the column's header.
Messages never repeat identity numbers. :data:`MAX_ERRORS` are kept, all are counted.
"""

from __future__ import annotations

import hashlib
import itertools
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import DatabaseError, IntegrityError, models, transaction
from django.utils.translation import gettext as _

from jindu.core.gcutil import relaxed_gc
from jindu.core.imports import pipeline
from jindu.core.imports.base import Importer
from jindu.core.imports.columns import CellError, Column, ParseContext
from jindu.core.imports.readers import FORMULA, FileRejected, normalize_header
from jindu.core.models import StaleEditError
from jindu.core.scope import ADD, CHANGE, holds_permission_at, permission_name
from jindu.core.services import ensure_in_scope

#: Rows shown in the preview.
PREVIEW_ROWS = 20
#: Rows the preview writes (and rolls back) per transaction; progress is reported after each.
PREVIEW_CHUNK = 500
# Pause between preview chunks on SQLite (seconds), so other users' writes get the lock.
PREVIEW_SQLITE_PAUSE_S = 0.25
#: Rows between progress reports during the commit.
COMMIT_PROGRESS_EVERY = 200
#: Ignored headers named in the warning; the rest are counted.
IGNORED_SHOWN = 10
#: Errors kept on a batch; the count of the rest is reported.
MAX_ERRORS = 1000

CREATED, UPDATED, UNCHANGED, ERROR = "created", "updated", "unchanged", "error"
_ACTIONS = (None, CREATED, UPDATED, UNCHANGED, ERROR)
_ACTION_CODES = {a: i for i, a in enumerate(_ACTIONS)}

Progress = Callable[[int, int], None]


@dataclass
class ImportResult:
    """What a run found or did.

    ``counts``: ``{"created", "updated", "unchanged"}`` — rows written (commit) or that
    would be written (preview); ``error_rows``: rows refused; ``errors``: up to
    :data:`MAX_ERRORS` error dicts (``errors_total`` counts them all); ``preview``: the
    first rows as ``{"row", "action", "cells": [str per column]}``; ``columns``: the
    headers of the mapped columns (preview's header row); ``warnings``: notes that do not
    stop the import (ignored columns); ``object_ids``: primary keys written (commit).
    """

    total_rows: int = 0
    counts: dict[str, int] = field(default_factory=lambda: {CREATED: 0, UPDATED: 0, UNCHANGED: 0})
    error_rows: int = 0
    errors: list[dict] = field(default_factory=list)
    errors_total: int = 0
    preview: list[dict] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    object_ids: list[Any] = field(default_factory=list)
    committed: bool = False

    @property
    def ok(self) -> bool:
        return self.errors_total == 0

    @property
    def valid_rows(self) -> int:
        return sum(self.counts.values())

    def add_error(self, row: int | None, column: str, message: str) -> None:
        self.errors_total += 1
        if len(self.errors) < MAX_ERRORS:
            self.errors.append({"row": row, "column": column, "message": str(message)})

    def summary(self) -> dict:
        """JSON form stored on the batch."""
        return {
            "counts": dict(self.counts),
            "error_rows": self.error_rows,
            "errors_total": self.errors_total,
            "preview": self.preview,
            "columns": self.columns,
            "warnings": self.warnings,
        }


class _Rollback(Exception):
    pass


def map_headers(importer: Importer, table: Any, result: ImportResult) -> dict[str, int] | None:
    """Column field → position in the table, from the header row (see
    :func:`~jindu.core.imports.readers.normalize_header`). Records a file-level error and
    returns ``None`` when a required column is missing or a column appears twice."""
    wanted: dict[str, Column] = {}
    for col in importer.columns:
        for name in col.header_forms():
            wanted.setdefault(normalize_header(name), col)
    positions: dict[str, int] = {}
    ignored: list[str] = []
    for index, raw in enumerate(table.headers):
        norm = normalize_header(raw)
        if not norm:
            continue
        col = wanted.get(norm)
        if col is None:
            ignored.append(str(raw).strip())
            continue
        if col.field in positions:
            result.add_error(
                table.header_row, col.label,
                _("表头中“%(header)s”列出现了不止一次") % {"header": col.label},
            )
            return None
        positions[col.field] = index
    missing = [c.label for c in importer.columns if c.field not in positions and importer.column_required(c)]
    if missing:
        result.add_error(
            table.header_row, "",
            _("缺少必填列：%(columns)s。请使用导入模板，表头须与模板一致") % {"columns": "、".join(missing)},
        )
        return None
    if len(ignored) > IGNORED_SHOWN:
        result.warnings.append(
            _("以下列不在模板中，已忽略：%(columns)s 等，共 %(count)s 列（其余 %(more)s 列未列出）")
            % {"columns": "、".join(ignored[:IGNORED_SHOWN]), "count": len(ignored),
               "more": len(ignored) - IGNORED_SHOWN}
        )
    elif ignored:
        result.warnings.append(_("以下列不在模板中，已忽略：%(columns)s") % {"columns": "、".join(ignored)})
    return positions


def _division_of(instance: models.Model, path: str) -> Any:
    obj: Any = instance
    for part in path.split("__") if path else []:
        obj = getattr(obj, part, None)
        if obj is None:
            return None
    return obj


def division_in_scope(model: type[models.Model], user: Any, action: str, instance: models.Model) -> bool | None:
    """Whether ``instance`` (possibly unsaved) lies in ``user``'s scope for ``action``.

    Decided from its division and the user's grants through the same primitives as
    :func:`jindu.core.scope.scope_q` (:func:`~jindu.core.scope.holds_permission_at`).
    ``None`` when it cannot be decided before saving (no division yet, or only an
    assignment-narrowed grant covers the division: the row may or may not be assigned to
    the user); the authoritative check is :func:`~jindu.core.services.ensure_in_scope`
    after the save.
    """
    if getattr(user, "is_superuser", False) and user.is_active:
        return True
    div_path = getattr(model, "scope_division_path", None)
    if div_path is None:
        return None
    division = _division_of(instance, div_path) if div_path else instance
    path = getattr(division, "path", None)
    if not path:
        return None
    perm = permission_name(model, action)
    # Models that let assignment-narrowed grants see the whole jurisdiction treat them as
    # subtree grants, exactly as scope_q does.
    jurisdiction_ok = getattr(model, "scope_assigned_only_sees_jurisdiction", False)
    if holds_permission_at(user, perm, path, include_assigned=jurisdiction_ok):
        return True
    if not jurisdiction_ok and holds_permission_at(user, perm, path, include_assigned=True):
        return None
    return False


class _ScopeProbe:
    """Attribute access over a row's parsed values, falling back to the existing record:
    lets :func:`division_in_scope` follow ``scope_division_path`` before the form runs."""

    def __init__(self, values: dict[str, Any], instance: models.Model | None):
        self._values = values
        self._instance = instance

    def __getattr__(self, name: str) -> Any:
        value = self._values.get(name)
        if value is not None:
            return value
        return getattr(self._instance, name, None) if self._instance is not None else None


def _raw_display(col: Column, cell: Any) -> str:
    """What an unreadable cell held, for the preview (identity numbers stay masked)."""
    from jindu.core.imports.columns import IdentityNumberColumn

    value = "" if cell.value is None else str(cell.value).strip()
    if isinstance(col, IdentityNumberColumn):
        from jindu.core.idnumbers import mask_identity_number

        return mask_identity_number(value)
    return value[:100]


def _form_base_data(form: Any) -> dict[str, Any]:
    """An unbound form's initial values as ``data``: fields the file does not cover keep the
    record's current value on update and the form's initial value on create."""
    data: dict[str, Any] = {}
    for bf in form:
        value = bf.value()
        data[bf.html_name] = "" if value is None else value
    return data


def _field_label(importer: Importer, form: Any, name: str) -> Any:
    """The header a row problem about field ``name`` is shown under: its column's, else the
    form field's label, else none (``""``; also for errors of the whole row)."""
    col = importer.column_for(name) if name != "__all__" else None
    if col is not None:
        return col.label
    if form is not None and name in form.fields:
        return str(form.fields[name].label or name)
    return ""


def _form_errors(importer: Importer, form: Any) -> list[tuple[str, str]]:
    return [(_field_label(importer, form, name), str(m)) for name, messages in form.errors.items() for m in messages]


def error_problems(importer: Importer, error: ValidationError, form: Any = None) -> list[tuple[str, str]]:
    """A ``ValidationError`` raised while a row was written (by a service: a number
    registered meanwhile, a rule of the timeline) as the row's problems: field-keyed
    messages under their column's header, as the form's own errors are shown
    (:func:`_field_label`), the rest under none."""
    if not hasattr(error, "error_dict"):
        return [("", m) for m in error.messages]
    return [(_field_label(importer, form, name), m) for name, messages in error.message_dict.items() for m in messages]


@dataclass
class RowOutcome:
    """What processing one row came to: ``action`` (``created``/``updated``/``unchanged``/
    ``error``), ``problems`` as ``[(column header, Chinese message)]`` (for ``error``) and
    the primary key written (``None`` when nothing was, or the write is deferred)."""

    action: str
    problems: list[tuple[str, str]] = field(default_factory=list)
    pk: Any = None


@dataclass
class PendingRow:
    """One data row after its cells were parsed: the spreadsheet row ``number``, the parsed
    ``values`` (column field → value, ``None`` for empty or unreadable cells), ``errors``
    (cell errors ``[(header, message)]``), ``shown`` (raw text of unreadable cells, for the
    preview) and its ``key`` (:meth:`Importer.key_of`, ``None`` when incomplete or when a
    cell failed). Bulk importers (:attr:`Importer.bulk_rows`) receive lists of these."""

    number: int
    values: dict[str, Any]
    errors: list[tuple[str, str]]
    shown: dict[str, str]
    key: tuple | None = None
    duplicate: bool = False
    outcome: RowOutcome | None = None


def _formula_error(cell: Any) -> str:
    return _(
        "单元格 %(cell)s 是公式：导入只接受直接填写的数值或文字（公式的结果可能缺失或过时）。"
        "请在 Excel 中复制该列，用“选择性粘贴 → 值”粘贴回原处后再上传"
    ) % {"cell": cell.coordinate}


@dataclass
class PreparedImport:
    """An import ready to run: the mapped ``columns`` and their ``positions`` in the
    table, the key's label, the ``table`` (a :class:`~jindu.core.imports.readers.Table`,
    :class:`~jindu.core.imports.readers.SheetStream` or spool) and the parse context.
    :attr:`rows` parses the table's rows one at a time, as they are read."""

    importer: Importer
    columns: list[Column]
    positions: dict[str, int]
    key_label: str
    table: Any
    ctx: ParseContext

    @property
    def rows(self) -> Iterator[PendingRow]:
        return self.parse_rows(self.table)

    def parse_rows(self, rows: Iterable[tuple[int, list]]) -> Iterator[PendingRow]:
        """:class:`PendingRow` per ``(number, cells)`` of ``rows``, parsed as they come."""
        importer, ctx = self.importer, self.ctx
        plan = [(col, self.positions[col.field]) for col in self.columns]
        for number, cells in rows:
            values: dict[str, Any] = {}
            errors: list[tuple[str, str]] = []
            shown: dict[str, str] = {}
            for col, position in plan:
                cell = cells[position]
                try:
                    if cell.kind == FORMULA:
                        raise CellError(_formula_error(cell))
                    values[col.field] = col.parse(cell, ctx)
                except CellError as exc:
                    errors.append((col.label, str(exc)))
                    values[col.field] = None
                    shown[col.field] = _raw_display(col, cell)
            key = importer.key_of(values) if not errors else None
            yield PendingRow(number, values, errors, shown, key)


def prepare_import(
    importer: Importer, table: Any, *, user: Any, file_error: str | None = None
) -> tuple[ImportResult, PreparedImport | None]:
    """Map the headers of ``table``; nothing is parsed or written yet.

    Returns the result so far (file-level errors, warnings, ``columns``) and the
    :class:`PreparedImport`, or ``None`` when the file cannot be imported at all
    (unreadable, a required column missing). ``table`` is anything with ``headers``,
    ``header_row`` and iterable rows (:func:`~jindu.core.imports.readers.open_table`).
    """
    result = ImportResult()
    if file_error is not None or table is None:
        result.add_error(None, "", file_error or _("文件无法读取"))
        return result, None
    positions = map_headers(importer, table, result)
    if positions is None:
        result.total_rows = getattr(table, "estimated_rows", 0)
        return result, None
    columns = [c for c in importer.columns if c.field in positions]
    result.columns = [c.label for c in columns]
    key_label = "+".join(
        (importer.column_for(f).label if importer.column_for(f) else f) for f in importer.key_fields
    )
    return result, PreparedImport(importer, columns, positions, key_label, table, ParseContext(user=user))


class _Run:
    """One pass over the rows: in-file duplicates, outcomes into the result, the preview.

    In-file duplicates are found as the rows stream by (keys are remembered as 16-byte
    digests): a row whose key was seen before is
    refused at once (and never written); the first row with that key was already processed,
    so when the pass ends its outcome is withdrawn — it is counted as an error with the
    duplicate message only, like the others of its group, whatever its own checks said.
    Every row of a group names all the others. Errors are then put back in row order.
    """

    def __init__(self, importer: Importer, prepared: PreparedImport, result: ImportResult, *, user: Any,
                 commit: bool):
        self.importer = importer
        self.prepared = prepared
        self.result = result
        self.user = user
        self.commit = commit
        # Per key (a 16-byte digest of it: memory per row stays small): the first row with
        # the key and its action, packed (row << 3 | action code); that row's number of
        # errors, if any; the later rows with the key.
        self.first: dict[bytes, int] = {}
        self.first_errors: dict[int, int] = {}
        self.later: dict[bytes, list[int]] = {}
        self.digests: dict[int, bytes] = {}
        self.preview_at: dict[int, int] = {}
        self.done = 0
        self.file_error = False

    # -- reading ----------------------------------------------------------------------

    def pending(self) -> Iterator[PendingRow]:
        """The table's rows, parsed, duplicates marked; a file found broken half-way (a
        csv whose quoting breaks) ends the rows with a file-level error."""
        try:
            for row in self.prepared.parse_rows(self.prepared.table):
                if row.key is not None:
                    digest = hashlib.blake2b(repr(row.key).encode(), digest_size=16).digest()
                    if digest not in self.first:
                        self.first[digest] = row.number << 3
                        self.digests[row.number] = digest
                    else:
                        row.duplicate = True
                        self.later.setdefault(digest, []).append(row.number)
                yield row
        except FileRejected as exc:
            self.file_error = True
            self.result.add_error(None, "", str(exc))

    # -- processing -------------------------------------------------------------------

    def process(self, rows: list[PendingRow], *, ahead: list[PendingRow] = ()) -> None:
        """Decide every row of ``rows`` (cell errors and duplicates first, then the
        importer's checks and writes) and record the outcomes in row order. ``ahead``: the
        next rows, read already (a bulk commit: :meth:`Importer.look_ahead
        <jindu.core.imports.base.Importer.look_ahead>`, then the batch's deferred writes are
        sent)."""
        clean: list[PendingRow] = []
        for row in rows:
            if row.errors:
                row.outcome = RowOutcome(ERROR, list(row.errors))
            elif row.duplicate:
                row.outcome = RowOutcome(ERROR)  # the message is added when the pass ends
            else:
                clean.append(row)
        if clean:
            if self.importer.bulk_rows:
                outcomes = self.importer.process_rows(clean, user=self.user, commit=self.commit,
                                                      fallback=self.process_one)
                if ahead and self.commit:
                    self.importer.look_ahead(ahead, user=self.user)
                pipeline.send()  # the batch's deferred writes, while the next rows are validated
                for row, outcome in zip(clean, outcomes, strict=True):
                    row.outcome = outcome
            else:
                for row in clean:
                    row.outcome = _process_clean_row(self.importer, self.prepared.columns, row.number, row.values,
                                                     user=self.user, commit=self.commit)
        for row in rows:
            self.record(row)
        self.done += len(rows)

    def process_one(self, row: PendingRow) -> RowOutcome:
        """The standard path for one clean row (form, :meth:`Importer.save`, scope re-check).
        For bulk importers handing a row back; in the preview its writes are rolled back."""
        if self.commit:
            return _process_clean_row(self.importer, self.prepared.columns, row.number, row.values,
                                      user=self.user, commit=True)
        outcome = None
        try:
            with transaction.atomic():
                outcome = _process_clean_row(self.importer, self.prepared.columns, row.number, row.values,
                                             user=self.user, commit=False)
                raise _Rollback
        except _Rollback:
            pass
        return outcome

    def record(self, row: PendingRow) -> None:
        result, outcome = self.result, row.outcome
        result.total_rows += 1
        if outcome.action == ERROR:
            result.error_rows += 1
            for column, message in outcome.problems:
                result.add_error(row.number, column, message)
        else:
            result.counts[outcome.action] += 1
            if outcome.pk is not None:
                result.object_ids.append(outcome.pk)
        digest = self.digests.pop(row.number, None) if row.key is not None and not row.duplicate else None
        if digest is not None:
            self.first[digest] |= _ACTION_CODES[outcome.action]
            if outcome.problems:
                self.first_errors[row.number] = len(outcome.problems)
        if len(result.preview) < PREVIEW_ROWS:
            self.preview_at[row.number] = len(result.preview)
            columns = self.prepared.columns
            result.preview.append(
                {"row": row.number, "action": outcome.action,
                 "cells": [row.shown[c.field] if c.field in row.shown else c.display(row.values.get(c.field))
                           for c in columns]}
            )

    def settle_duplicates(self) -> None:
        """Refuse every row of each in-file duplicate group (see the class docstring)."""
        result = self.result
        label = self.prepared.key_label
        settled = False
        for digest, later in self.later.items():
            settled = True
            packed = self.first[digest]
            first, action = packed >> 3, _ACTIONS[packed & 7]
            errors = self.first_errors.get(first, 0)
            if action == ERROR:
                # The first row is refused for the duplicate alone, as the others are.
                if errors:
                    result.errors = [e for e in result.errors if e["row"] != first]
                    result.errors_total -= errors
            else:
                if action in result.counts:
                    result.counts[action] -= 1
                result.error_rows += 1
            group = [first, *later]
            for number in group:
                others = [n for n in group if n != number]
                result.add_error(
                    number, label,
                    _("与第 %(rows)s 行重复（%(key)s相同）：同一文件中同一记录只能出现一次，请合并后再导入")
                    % {"rows": "、".join(str(r) for r in others), "key": label},
                )
                if number in self.preview_at:
                    result.preview[self.preview_at[number]]["action"] = ERROR
        if settled:
            result.errors.sort(key=lambda e: (e["row"] is not None, e["row"] or 0))
        self.first, self.first_errors, self.later = {}, {}, {}

    def check_not_empty(self) -> bool:
        if self.done or self.file_error:
            return bool(self.done)
        self.result.columns = []
        self.result.add_error(None, "", _("文件中没有数据行：表头下方至少要有一行数据。"))
        return False


def _chunks(rows: Iterable[PendingRow], size: int) -> Iterator[tuple[list[PendingRow], list[PendingRow]]]:
    """``rows`` in lists of ``size``, each with the list that follows it (read ahead; empty
    after the last)."""
    it = iter(rows)
    current = list(itertools.islice(it, size))
    while current:
        following = list(itertools.islice(it, size))
        yield current, following
        current = following


def apply_import(
    importer: Importer,
    prepared: PreparedImport,
    result: ImportResult,
    *,
    user: Any,
    commit: bool,
    progress: Progress | None = None,
) -> ImportResult:
    """Read, validate and write the prepared rows as they stream; fills ``result`` and
    returns it. Only a chunk of rows is held at a time.

    Row by row (the default importer): ``commit=False`` handles chunks of
    :data:`PREVIEW_CHUNK` rows, each written in its own transaction and rolled back, with
    ``progress(done, total)`` called between chunks (outside any transaction);
    ``commit=True`` writes every row in one transaction, kept only if every row succeeded
    (``result.committed``), ``progress`` called every :data:`COMMIT_PROGRESS_EVERY` rows
    from inside it.

    Bulk importers (:attr:`Importer.bulk_rows` > 0) get the rows in lists of that size
    (:meth:`Importer.process_rows`), ``progress`` after each; their preview runs in no
    transaction (they validate without writing), their commit in one.

    ``total`` is the table's ``estimated_rows`` until the last call, which gives the real
    count. After the last row :meth:`Importer.finish <jindu.core.imports.base.Importer.finish>`
    runs once: in the commit's transaction before the all-or-nothing decision, in the
    preview in a transaction of its own that is rolled back.

    The whole run has Python's garbage collector relaxed (:func:`jindu.core.gcutil.relaxed_gc`).
    """
    with relaxed_gc():
        return _apply(importer, prepared, result, user=user, commit=commit, progress=progress)


def _apply(importer: Importer, prepared: PreparedImport, result: ImportResult, *, user: Any, commit: bool,
           progress: Progress | None) -> ImportResult:
    run = _Run(importer, prepared, result, user=user, commit=commit)
    hint = int(getattr(prepared.table, "estimated_rows", 0) or 0)
    reported: list[tuple[int, int]] = []

    def report(last: bool) -> None:
        if progress:
            call = (run.done, run.done if last else max(hint, run.done))
            progress(*call)
            reported.append(call)

    bulk = int(getattr(importer, "bulk_rows", 0) or 0)
    if not commit:
        if bulk:
            for chunk, following in _chunks(run.pending(), bulk):
                run.process(chunk)
                report(not following)
        else:
            for chunk, following in _chunks(run.pending(), PREVIEW_CHUNK):
                last = not following
                try:
                    with transaction.atomic():
                        run.process(chunk)
                        raise _Rollback
                except _Rollback:
                    pass
                report(last)
                if not last and transaction.get_connection().vendor == "sqlite":
                    # Let writers that wait on SQLite's lock in: their busy handler retries at
                    # most every 100 ms, so a gap shorter than that is almost never seen.
                    time.sleep(PREVIEW_SQLITE_PAUSE_S)
        if run.check_not_empty():
            run.settle_duplicates()
            try:
                with transaction.atomic():
                    importer.finish(user=user, commit=False, result=result)
                    raise _Rollback
            except _Rollback:
                pass
        result.object_ids = []
        return result

    try:
        with transaction.atomic(), pipeline.pipelined(enabled=bool(bulk)):
            if bulk:
                for chunk, following in _chunks(run.pending(), bulk):
                    run.process(chunk, ahead=following)
                    report(not following)
            else:
                for row in run.pending():
                    run.process([row])
                    if run.done % COMMIT_PROGRESS_EVERY == 0:
                        report(False)
                if progress and run.done and (not reported or reported[-1] != (run.done, run.done)):
                    report(True)
            if run.check_not_empty():
                run.settle_duplicates()
                importer.finish(user=user, commit=True, result=result)
            if not result.ok:
                raise _Rollback
        result.committed = True  # after the COMMIT (and the import writer's last writes)
    except _Rollback:
        result.object_ids = []
    return result


def run_import(
    importer: Importer,
    table: Any,
    *,
    user: Any,
    commit: bool,
    progress: Progress | None = None,
    file_error: str | None = None,
) -> ImportResult:
    """Validate ``table`` row by row with ``importer`` and write it all, or nothing:
    :func:`prepare_import` then :func:`apply_import`.

    ``table``: a :class:`~jindu.core.imports.readers.Table`, or a stream from
    :func:`~jindu.core.imports.readers.open_table` (read as it goes). ``commit=False``
    (preview) always rolls back; ``commit=True`` keeps the writes only if every row
    succeeded. Must be called outside any transaction the caller wants kept apart (it opens
    its own atomic blocks; inside a caller's transaction they are savepoints).
    ``progress(done, total)`` is called while rows are processed.
    """
    result, prepared = prepare_import(importer, table, user=user, file_error=file_error)
    if prepared is None:
        return result
    return apply_import(importer, prepared, result, user=user, commit=commit, progress=progress)


def _process_clean_row(
    importer: Importer,
    columns: list[Column],
    number: int,
    values: dict[str, Any],
    *,
    user: Any,
    commit: bool,
) -> RowOutcome:
    """Validate and write one row whose cells all parsed (inside the import's
    transaction); the standard path: find the record it updates, scope, the importer's
    form, :meth:`Importer.save`, scope again."""
    importer.row_number = number
    instance = importer.find_existing(values, user=user, lock=commit) if importer.key_of(values) else None
    created = instance is None
    action_perm = ADD if created else CHANGE
    out_of_scope = [("", _("该记录超出您的管辖范围或您没有%(action)s权限")
                     % {"action": _("新增") if created else _("修改")})]
    # Decide scope from the file's own values first, so a row placed outside the user's
    # jurisdiction is told so, not given the form's "invalid choice" for that place.
    if division_in_scope(importer.model, user, action_perm, _ScopeProbe(values, instance)) is False:
        return RowOutcome(ERROR, out_of_scope)
    model_instance = instance if instance is not None else importer.model()
    form_kwargs = importer.get_form_kwargs(user=user, instance=model_instance)
    data = _form_base_data(importer.form_class(instance=model_instance, **form_kwargs))
    for col in columns:
        data[col.field] = col.to_form(values.get(col.field))
    form = importer.form_class(data=data, instance=model_instance, **form_kwargs)
    if not form.is_valid():
        return RowOutcome(ERROR, _form_errors(importer, form))
    if division_in_scope(importer.model, user, action_perm, form.instance) is False:
        return RowOutcome(ERROR, out_of_scope)
    if not created and not form.has_changed():
        return RowOutcome(UNCHANGED)

    try:
        with transaction.atomic():
            obj = importer.save(form, user=user, created=created)
            if obj is not None:  # None: the importer writes the row in bulk in finish()
                ensure_in_scope(obj, user=user, action=action_perm)
    except PermissionDenied:
        return RowOutcome(ERROR, out_of_scope)
    except StaleEditError:
        return RowOutcome(ERROR, [("", _("该记录在导入过程中已被他人修改，请重新预览后再导入"))])
    except ValidationError as exc:
        return RowOutcome(ERROR, error_problems(importer, exc, form))
    except IntegrityError:
        return RowOutcome(ERROR, [("", _("与已有记录冲突（唯一性约束），未能保存"))])
    except DatabaseError:
        return RowOutcome(ERROR, [("", _("数据库拒绝了该行（数值超出范围或格式不符）"))])
    return RowOutcome(CREATED if created else UPDATED, pk=obj.pk if obj is not None else None)


def read_and_run(
    importer: Importer, data: bytes, filename: str, *, user: Any, commit: bool, progress: Progress | None = None
) -> ImportResult:
    """:func:`run_import` on file bytes, streamed; a file that cannot be read is one
    file-level error."""
    from jindu.core.imports.readers import open_table

    try:
        table = open_table(data, filename)
    except FileRejected as exc:
        return run_import(importer, None, user=user, commit=commit, file_error=str(exc))
    return run_import(importer, table, user=user, commit=commit, progress=progress)
