"""Running an importer over a table: map headers, parse cells, validate rows with the
importer's form, find duplicates, and write all rows in one transaction — or none.

The same code path serves the preview and the commit, in two steps: :func:`prepare_import`
maps headers, parses every cell and finds in-file duplicates (keys compared across the
whole file, from the parsed rows, no database writes); :func:`apply_import` validates each
row with the importer's form and writes it.

The preview runs the writes too, so it reports what the commit will do (created /
updated / unchanged, scope refusals, database constraint errors) without leaving anything
behind: rows are written in chunks of :data:`PREVIEW_CHUNK`, each chunk in its own short
transaction that is always rolled back, with ``progress`` called between chunks — outside
any transaction the engine opened, so a job's progress is committed and visible, and on
SQLite other users can write between chunks instead of waiting minutes for the database
lock. Because each chunk is rolled back before the next, a database constraint that two
rows of *different* chunks would break together (beyond the importer's key, which is
checked file-wide) is found by the commit, not the preview; the commit then writes nothing.

The commit runs the same steps again on the current database state in one transaction and
rolls back if a single row fails (DESIGN.md "Input": all-or-nothing). Its ``progress``
calls happen inside that transaction; :class:`jindu.core.jobs.JobReporter` writes them
through a separate connection (see there; not possible on SQLite).

Errors are dicts ``{"row": int | None, "column": str, "message": str}`` with the
spreadsheet's row number (``None`` for file-level errors) and the column's header.
Messages never repeat identity numbers.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Callable

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import DatabaseError, IntegrityError, models, transaction
from django.utils.translation import gettext as _

from jindu.core.imports.base import Importer
from jindu.core.imports.columns import CellError, Column, ParseContext
from jindu.core.imports.readers import FORMULA, FileRejected, Table, normalize_header
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


def map_headers(importer: Importer, table: Table, result: ImportResult) -> dict[str, int] | None:
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


def _form_errors(importer: Importer, form: Any) -> list[tuple[str, str]]:
    out = []
    for name, messages in form.errors.items():
        col = importer.column_for(name) if name != "__all__" else None
        if col is not None:
            label = col.label
        elif name in form.fields:
            label = str(form.fields[name].label or name)
        else:
            label = ""
        for m in messages:
            out.append((label, str(m)))
    return out


@dataclass
class PreparedImport:
    """What :func:`prepare_import` read: the mapped ``columns``, each row as
    ``(row number, parsed values, cell errors, raw text shown for unreadable cells)``,
    ``duplicates`` (row number → the other rows with the same key) and the key's label."""

    columns: list[Column]
    rows: list[tuple[int, dict[str, Any], list[tuple[str, str]], dict[str, str]]]
    duplicates: dict[int, list[int]]
    key_label: str


def _formula_error(cell: Any) -> str:
    return _(
        "单元格 %(cell)s 是公式：导入只接受直接填写的数值或文字（公式的结果可能缺失或过时）。"
        "请在 Excel 中复制该列，用“选择性粘贴 → 值”粘贴回原处后再上传"
    ) % {"cell": cell.coordinate}


def prepare_import(
    importer: Importer, table: Table | None, *, user: Any, file_error: str | None = None
) -> tuple[ImportResult, PreparedImport | None]:
    """Map headers and parse every cell of ``table``; nothing is written.

    Returns the result so far (file-level errors, warnings, ``total_rows``, ``columns``)
    and the prepared rows, or ``None`` when the file cannot be imported at all (unreadable,
    a required column missing, no data rows). Formula cells are refused per cell.
    """
    result = ImportResult()
    if file_error is not None or table is None:
        result.add_error(None, "", file_error or _("文件无法读取"))
        return result, None
    result.total_rows = len(table.rows)
    positions = map_headers(importer, table, result)
    if positions is None:
        return result, None
    if not table.rows:
        result.add_error(None, "", _("文件中没有数据行：表头下方至少要有一行数据。"))
        return result, None
    columns = [c for c in importer.columns if c.field in positions]
    result.columns = [c.label for c in columns]
    ctx = ParseContext(user=user)

    parsed: list[tuple[int, dict[str, Any], list[tuple[str, str]], dict[str, str]]] = []
    rows_by_key: dict[tuple, list[int]] = defaultdict(list)
    for number, cells in table.rows:
        values: dict[str, Any] = {}
        errors: list[tuple[str, str]] = []
        shown: dict[str, str] = {}
        for col in columns:
            cell = cells[positions[col.field]]
            try:
                if cell.kind == FORMULA:
                    raise CellError(_formula_error(cell))
                values[col.field] = col.parse(cell, ctx)
            except CellError as exc:
                errors.append((col.label, str(exc)))
                values[col.field] = None
                shown[col.field] = _raw_display(col, cell)
        key = importer.key_of(values) if not errors else None
        if key is not None:
            rows_by_key[key].append(number)
        parsed.append((number, values, errors, shown))
    duplicates: dict[int, list[int]] = {}
    for rows in rows_by_key.values():
        if len(rows) > 1:
            for r in rows:
                duplicates[r] = [o for o in rows if o != r]
    key_label = "+".join(
        (importer.column_for(f).label if importer.column_for(f) else f) for f in importer.key_fields
    )
    return result, PreparedImport(columns, parsed, duplicates, key_label)


def apply_import(
    importer: Importer,
    prepared: PreparedImport,
    result: ImportResult,
    *,
    user: Any,
    commit: bool,
    progress: Progress | None = None,
) -> ImportResult:
    """Validate and write the prepared rows; fills ``result`` and returns it.

    ``commit=False``: chunks of :data:`PREVIEW_CHUNK` rows, each written in its own
    transaction and rolled back, ``progress(done, total)`` called between chunks.
    ``commit=True``: every row in one transaction, kept only if every row succeeded
    (``result.committed``); ``progress`` is called every :data:`COMMIT_PROGRESS_EVERY`
    rows from inside that transaction.
    """
    rows = prepared.rows
    total = len(rows)

    def process(number: int, values: dict, errors: list, shown: dict) -> None:
        action = _process_row(
            importer, prepared.columns, number, values, errors, prepared.duplicates.get(number),
            prepared.key_label, user=user, commit=commit, result=result,
        )
        if len(result.preview) < PREVIEW_ROWS:
            result.preview.append(
                {"row": number, "action": action,
                 "cells": [shown[c.field] if c.field in shown else c.display(values.get(c.field))
                           for c in prepared.columns]}
            )

    if not commit:
        for start in range(0, total, PREVIEW_CHUNK):
            try:
                with transaction.atomic():
                    for row in rows[start:start + PREVIEW_CHUNK]:
                        process(*row)
                    raise _Rollback
            except _Rollback:
                pass
            if progress:
                progress(min(start + PREVIEW_CHUNK, total), total)
            if transaction.get_connection().vendor == "sqlite" and start + PREVIEW_CHUNK < total:
                # Let writers that wait on SQLite's lock in: their busy handler retries at
                # most every 100 ms, so a gap shorter than that is almost never seen.
                time.sleep(PREVIEW_SQLITE_PAUSE_S)
        result.object_ids = []
        return result

    try:
        with transaction.atomic():
            for done, row in enumerate(rows, start=1):
                process(*row)
                if progress and (done % COMMIT_PROGRESS_EVERY == 0 or done == total):
                    progress(done, total)
            if not result.ok:
                raise _Rollback
            result.committed = True
    except _Rollback:
        result.object_ids = []
    return result


def run_import(
    importer: Importer,
    table: Table | None,
    *,
    user: Any,
    commit: bool,
    progress: Progress | None = None,
    file_error: str | None = None,
) -> ImportResult:
    """Validate ``table`` row by row with ``importer`` and write it all, or nothing:
    :func:`prepare_import` then :func:`apply_import`.

    ``commit=False`` (preview) always rolls back; ``commit=True`` keeps the writes only if
    every row succeeded. Must be called outside any transaction the caller wants kept
    apart (it opens its own atomic blocks; inside a caller's transaction they are
    savepoints). ``progress(done, total)`` is called while rows are processed.
    """
    result, prepared = prepare_import(importer, table, user=user, file_error=file_error)
    if prepared is None:
        return result
    return apply_import(importer, prepared, result, user=user, commit=commit, progress=progress)


def _process_row(
    importer: Importer,
    columns: list[Column],
    number: int,
    values: dict[str, Any],
    errors: list[tuple[str, str]],
    duplicate_of: list[int] | None,
    key_label: str,
    *,
    user: Any,
    commit: bool,
    result: ImportResult,
) -> str:
    """Validate and write one row inside the import's transaction; returns its action."""

    def refuse(problems: list[tuple[str, str]]) -> str:
        result.error_rows += 1
        for column, message in problems:
            result.add_error(number, column, message)
        return ERROR

    if duplicate_of:
        errors = errors + [(
            key_label,
            _("与第 %(rows)s 行重复（%(key)s相同）：同一文件中同一记录只能出现一次，请合并后再导入")
            % {"rows": "、".join(str(r) for r in duplicate_of), "key": key_label},
        )]
    if errors:
        return refuse(errors)

    instance = importer.find_existing(values, user=user, lock=commit) if importer.key_of(values) else None
    created = instance is None
    action_perm = ADD if created else CHANGE
    out_of_scope = [("", _("该记录超出您的管辖范围或您没有%(action)s权限")
                     % {"action": _("新增") if created else _("修改")})]
    # Decide scope from the file's own values first, so a row placed outside the user's
    # jurisdiction is told so, not given the form's "invalid choice" for that place.
    if division_in_scope(importer.model, user, action_perm, _ScopeProbe(values, instance)) is False:
        return refuse(out_of_scope)
    model_instance = instance if instance is not None else importer.model()
    form_kwargs = importer.get_form_kwargs(user=user, instance=model_instance)
    data = _form_base_data(importer.form_class(instance=model_instance, **form_kwargs))
    for col in columns:
        data[col.field] = col.to_form(values.get(col.field))
    form = importer.form_class(data=data, instance=model_instance, **form_kwargs)
    if not form.is_valid():
        return refuse(_form_errors(importer, form))
    if division_in_scope(importer.model, user, action_perm, form.instance) is False:
        return refuse(out_of_scope)
    if not created and not form.has_changed():
        result.counts[UNCHANGED] += 1
        return UNCHANGED

    try:
        with transaction.atomic():
            obj = importer.save(form, user=user, created=created)
            ensure_in_scope(obj, user=user, action=action_perm)
    except PermissionDenied:
        return refuse(out_of_scope)
    except StaleEditError:
        return refuse([("", _("该记录在导入过程中已被他人修改，请重新预览后再导入"))])
    except ValidationError as exc:
        return refuse([("", m) for m in exc.messages])
    except IntegrityError:
        return refuse([("", _("与已有记录冲突（唯一性约束），未能保存"))])
    except DatabaseError:
        return refuse([("", _("数据库拒绝了该行（数值超出范围或格式不符）"))])
    result.object_ids.append(obj.pk)
    kind = CREATED if created else UPDATED
    result.counts[kind] += 1
    return kind


def read_and_run(
    importer: Importer, data: bytes, filename: str, *, user: Any, commit: bool, progress: Progress | None = None
) -> ImportResult:
    """:func:`run_import` on file bytes; a file that cannot be read is one file-level error."""
    from jindu.core.imports.readers import read_table

    try:
        table = read_table(data, filename)
    except FileRejected as exc:
        return run_import(importer, None, user=user, commit=commit, file_error=str(exc))
    return run_import(importer, table, user=user, commit=commit, progress=progress)
