"""Export adapter: scoped querysets to xlsx (streamed, openpyxl write-only) and csv.

Declaring an exporter (in an app's ``exporters.py``)::

    class UnitExporter(Exporter):
        name = "org.unit"
        label = _("单位")
        model = Unit
        select_related = ("division",)
        columns = [
            ExportColumn(_("单位名称"), "name"),
            ExportColumn(_("单位类型"), "get_kind_display"),
            ExportColumn(_("所属区划"), "division.code", kind=CODE),
            ExportColumn(_("数量(千克)"), "quantity_kg", kind=NUMBER),
        ]

and serving it with :class:`jindu.core.views.imports.ExportView`
(``ExportView.as_view(exporter=UnitExporter)``; ``?format=csv`` for csv).

Rules (DESIGN.md "Input", peer cases 21 and 22):

- Rows are read through ``Exporter.get_queryset(user)`` — ``restrict(user, "view")`` plus
  ``select_related`` — with ``.iterator(chunk_size=…)``: the number of queries does not
  grow with the number of rows, and memory stays flat.
- Identity numbers and codes are written as text cells (number format ``@``), so Excel
  neither drops leading zeros nor rounds to 15 digits. Numeric columns stay numbers
  (``Decimal`` written as a number, never via float text).
- Text starting with ``= + - @``, tab or carriage return can never become a formula: in
  xlsx it is a string cell with the "quote prefix" style (shown and re-read exactly as
  written); in csv it is prefixed with an apostrophe (OWASP "CSV injection"), which
  :func:`unescape_formula` — applied by the csv import reader — removes again, so a
  re-import gives back the original string.
- csv is UTF-8 with a BOM, so Excel opens Chinese text correctly.
- Identity-number columns (``kind=IDENTITY``) are masked exactly as on pages and in the
  API (:func:`jindu.core.idnumbers.display_identity_number`): in full only where the
  exporting user holds ``accounts.view_identity_number`` over the row's division.
- Exports of personal data (``personal_data = True``) write one access-log row of kind
  ``export`` with the ids exported.
- Exports of more than ``settings.JINDU_EXPORT_BACKGROUND_ROWS`` rows (default 2000) run
  as a background job (:func:`start_export_job`, task :func:`jindu.core.tasks.export_rows`):
  the job re-applies the owner's scope and the page's filters when it runs, reports
  progress per chunk and keeps the file as its result, downloadable by the owner only.
"""

from __future__ import annotations

import csv
import io
import tempfile
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from typing import IO, Any, Callable, Iterable, Iterator, Sequence

from django.conf import settings
from django.db import models
from django.http import QueryDict
from django.utils import timezone
from django.utils.translation import gettext as _

from jindu.core.scope import VIEW

TEXT, IDENTITY, CODE, NUMBER, DATE, DATETIME = "text", "identity", "code", "number", "date", "datetime"

#: First characters that make a spreadsheet treat text as a formula (OWASP CSV injection).
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
CHUNK_SIZE = 2000


def needs_escape(text: str) -> bool:
    """Whether ``text`` would be read as a formula (or is an already-escaped such text)."""
    if not text:
        return False
    if text.startswith(FORMULA_TRIGGERS):
        return True
    stripped = text.lstrip("'")
    return stripped != text and stripped.startswith(FORMULA_TRIGGERS)


def escape_formula(text: str) -> str:
    """Prefix an apostrophe to text a spreadsheet would run as a formula (csv).

    ``"=1+2"`` → ``"'=1+2"``; text that already starts with apostrophes before a trigger
    gets one more, so :func:`unescape_formula` is an exact inverse for every string.
    """
    return "'" + text if needs_escape(text) else text


def unescape_formula(text: str) -> str:
    """Inverse of :func:`escape_formula` (``"'=1+2"`` → ``"=1+2"``; ``"'abc"`` unchanged)."""
    if text.startswith("'") and text.lstrip("'").startswith(FORMULA_TRIGGERS):
        return text[1:]
    return text


@dataclass
class ExportColumn:
    """One exported column: ``header`` (Chinese msgid), ``value`` (attribute path with dots,
    ``"division.code"``; a zero-argument method name such as ``"get_kind_display"``; or a
    callable ``obj -> value``) and ``kind``: ``text``, ``identity``, ``code`` (text cells),
    ``number`` (int/Decimal), ``date``, ``datetime`` (local time, Asia/Shanghai)."""

    header: Any
    value: str | Callable[[Any], Any]
    kind: str = TEXT
    width: int | None = None
    #: For ``identity`` columns: dotted path from the row to the ``geo.Division`` whose
    #: subtree decides unmasking; defaults to the model's ``scope_division_path``. The
    #: exporter must ``select_related`` it.
    division: str | None = None

    def get(self, obj: Any) -> Any:
        if callable(self.value):
            return self.value(obj)
        current = obj
        for part in self.value.split("."):
            if current is None:
                return None
            current = getattr(current, part)
            if callable(current) and not isinstance(current, models.Model):
                current = current()
        return current


class Exporter:
    """What one kind of export writes. Subclass and declare ``name``, ``label``, ``model``,
    ``columns`` (:class:`ExportColumn`), ``select_related`` (every to-one path the columns
    follow, so rows cost no extra queries), ``personal_data`` and optionally
    ``filename`` (without extension; defaults to ``label``)."""

    name: str = ""
    label: Any = ""
    model: type[models.Model]
    columns: Sequence[ExportColumn] = ()
    select_related: Sequence[str] = ()
    prefetch_related: Sequence[str] = ()
    personal_data: bool = False
    filename: Any = ""

    def get_queryset(self, user: Any, params: Any = None) -> models.QuerySet:
        """The rows ``user`` may view; override to apply filters from ``params`` (the
        request's GET). Must stay restricted."""
        qs = self.model._default_manager.restrict(user, VIEW)
        if self.select_related:
            qs = qs.select_related(*self.select_related)
        if self.prefetch_related:
            qs = qs.prefetch_related(*self.prefetch_related)
        return qs

    def get_filename(self, fmt: str) -> str:
        stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
        return f"{self.filename or self.label}-{stamp}.{fmt}"

    def rows(self, queryset: models.QuerySet, seen: list | None = None, *, user: Any = None) -> Iterator[list[Any]]:
        """Each object's column values; primary keys are appended to ``seen`` if given.

        Identity columns are shown to ``user`` as pages show them (masked unless the user
        may see the number in the row's division; masked for ``None``).
        """
        identity = [(i, self._division_getter(c)) for i, c in enumerate(self.columns) if c.kind == IDENTITY]
        if identity:
            from jindu.core.idnumbers import display_identity_number
        for obj in queryset.iterator(chunk_size=CHUNK_SIZE):
            if seen is not None:
                seen.append(obj.pk)
            values = [c.get(obj) for c in self.columns]
            for i, division_of in identity:
                values[i] = display_identity_number(values[i], user, division_of(obj))
            yield values

    def _division_getter(self, column: ExportColumn) -> Callable[[Any], Any]:
        path = column.division
        if path is None:
            scope_path = getattr(self.model, "scope_division_path", None)
            if scope_path is None:
                # No division to decide by: only a country-wide permission unmasks.
                return lambda obj: None
            path = scope_path.replace("__", ".")
        if not path:  # the model is the division tree itself
            return lambda obj: obj
        return ExportColumn("", path).get


def _local_naive(value: datetime) -> datetime:
    if timezone.is_aware(value):
        value = timezone.localtime(value)
    return value.replace(tzinfo=None)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return _("是") if value else _("否")
    return str(value)


def write_xlsx(columns: Sequence[ExportColumn], rows: Iterable[Sequence[Any]], fh: IO[bytes],
               *, sheet_title: str = "") -> int:
    """Write a one-sheet workbook to ``fh`` in openpyxl write-only mode (rows are streamed,
    not kept). Returns the number of data rows."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    wb = Workbook(write_only=True)
    ws = wb.create_sheet(title=(sheet_title or "Sheet1")[:31])
    for i, col in enumerate(columns, start=1):
        width = col.width or max(10, min(40, 2 * len(str(col.header)) + 4))
        ws.column_dimensions[get_column_letter(i)].width = width
        if col.kind in (IDENTITY, CODE):
            ws.column_dimensions[get_column_letter(i)].number_format = "@"
    bold = Font(bold=True)
    header = []
    for col in columns:
        cell = WriteOnlyCell(ws, value=str(col.header))
        cell.font = bold
        header.append(cell)
    ws.append(header)
    count = 0
    for values in rows:
        ws.append([_xlsx_cell(ws, col, value) for col, value in zip(columns, values)])
        count += 1
    wb.save(fh)
    return count


def _xlsx_cell(ws: Any, col: ExportColumn, value: Any) -> Any:
    from openpyxl.cell import WriteOnlyCell

    if value is None or value == "":
        cell = WriteOnlyCell(ws, value=None)
        if col.kind in (IDENTITY, CODE):
            cell.number_format = "@"
        return cell
    if col.kind == NUMBER and isinstance(value, (int, Decimal, float)) and not isinstance(value, bool):
        return WriteOnlyCell(ws, value=value)
    if col.kind in (DATE, DATETIME) and isinstance(value, (date, datetime)):
        if isinstance(value, datetime):
            cell = WriteOnlyCell(ws, value=_local_naive(value))
            cell.number_format = "yyyy-mm-dd hh:mm:ss"
        else:
            cell = WriteOnlyCell(ws, value=value)
            cell.number_format = "yyyy-mm-dd"
        return cell
    if isinstance(value, time):
        value = value.isoformat()
    text = _text(value)
    cell = WriteOnlyCell(ws, value=text)
    # openpyxl turns "=..." into a formula when the value is assigned; a string cell it is.
    cell.data_type = "s"
    if col.kind in (IDENTITY, CODE):
        cell.number_format = "@"
    if needs_escape(text):
        cell.quotePrefix = True
    return cell


def csv_lines(columns: Sequence[ExportColumn], rows: Iterable[Sequence[Any]]) -> Iterator[str]:
    """The csv text in chunks (header first, BOM at the very start), for streaming."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")

    def take() -> str:
        out = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate(0)
        return out

    writer.writerow([escape_formula(str(c.header)) for c in columns])
    yield "\ufeff" + take()
    for n, values in enumerate(rows, start=1):
        writer.writerow([_csv_value(col, value) for col, value in zip(columns, values)])
        if n % 500 == 0:
            yield take()
    rest = take()
    if rest:
        yield rest


def _csv_value(col: ExportColumn, value: Any) -> str:
    if value is None:
        return ""
    if col.kind == NUMBER and isinstance(value, (int, Decimal)) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, datetime):
        return _local_naive(value).strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.isoformat()
    return escape_formula(_text(value))


def write_csv(columns: Sequence[ExportColumn], rows: Iterable[Sequence[Any]], fh: IO[bytes]) -> int:
    """Write UTF-8 csv with BOM to ``fh``; returns the number of data rows."""
    counted = _Counter(rows)
    for chunk in csv_lines(columns, counted):
        fh.write(chunk.encode("utf-8"))
    return counted.n


class _Counter:
    def __init__(self, rows: Iterable[Sequence[Any]]):
        self.rows = rows
        self.n = 0

    def __iter__(self):
        for r in self.rows:
            self.n += 1
            yield r


def log_export(exporter: Exporter, *, user: Any, ids: list, path: str = "", query: Any = None) -> None:
    """One access-log row (kind ``export``) for an export of personal data; no-op otherwise."""
    if not exporter.personal_data:
        return
    from jindu.core.audit import log_access
    from jindu.core.models import AccessLog

    log_access(kind=AccessLog.Kind.EXPORT, model=exporter.model, user=user, object_ids=ids,
               result_count=len(ids), path=path, query=dict(query or {}))


def export_to_file(exporter: Exporter, *, user: Any, fmt: str = "xlsx", params: Any = None,
                   path: str = "", on_progress: Callable[[int], None] | None = None) -> tuple[IO[bytes], int]:
    """Export ``exporter``'s rows visible to ``user`` into a temporary file (rewound).

    Returns ``(file, row_count)``; ``fmt`` is ``"xlsx"`` or ``"csv"``; ``params`` are the
    list's filters (a ``QueryDict`` or a dict). ``on_progress(rows_written)`` is called
    every :data:`CHUNK_SIZE` rows and once at the end. Writes the access log for personal
    data. Raises ``ValueError`` for another format.
    """
    if fmt not in ("xlsx", "csv"):
        raise ValueError(fmt)
    qs = exporter.get_queryset(user, params)
    ids: list = []
    fh = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)
    rows: Iterable[list[Any]] = exporter.rows(qs, seen=ids, user=user)
    if on_progress is not None:
        rows = _reporting(rows, on_progress)
    if fmt == "xlsx":
        count = write_xlsx(exporter.columns, rows, fh, sheet_title=str(exporter.label))
    else:
        count = write_csv(exporter.columns, rows, fh)
    fh.seek(0)
    log_export(exporter, user=user, ids=ids, path=path, query=params)
    return fh, count


def _reporting(rows: Iterable[list[Any]], on_progress: Callable[[int], None]) -> Iterator[list[Any]]:
    n = 0
    for row in rows:
        yield row
        n += 1
        if n % CHUNK_SIZE == 0:
            on_progress(n)
    on_progress(n)


# -- exports as background jobs ----------------------------------------------------------


def background_rows() -> int:
    """Exports with more rows than this run as jobs (``settings.JINDU_EXPORT_BACKGROUND_ROWS``)."""
    return int(getattr(settings, "JINDU_EXPORT_BACKGROUND_ROWS", 2000))


def exceeds(queryset: models.QuerySet, limit: int) -> bool:
    """Whether ``queryset`` has more than ``limit`` rows, reading at most one row past it."""
    return queryset.order_by().values("pk")[limit:limit + 1].exists()


def exporter_path(exporter: Exporter | type[Exporter]) -> str:
    """The dotted import path of an exporter class (what an export job stores)."""
    cls = exporter if isinstance(exporter, type) else type(exporter)
    return f"{cls.__module__}.{cls.__qualname__}"


def load_exporter(dotted: str) -> Exporter:
    """An instance of the exporter class at ``dotted``; ``LookupError`` if there is none."""
    from django.utils.module_loading import import_string

    try:
        cls = import_string(dotted)
    except ImportError:
        raise LookupError(dotted) from None
    if not (isinstance(cls, type) and issubclass(cls, Exporter)):
        raise LookupError(dotted)
    return cls()


def params_to_json(params: Any) -> dict[str, list[str]]:
    """Filter parameters as a JSON object of lists (repeated keys kept), for job params."""
    if params is None:
        return {}
    if isinstance(params, QueryDict):
        return {k: list(v) for k, v in params.lists()}
    return {k: (list(v) if isinstance(v, (list, tuple)) else [str(v)]) for k, v in dict(params).items()}


def params_from_json(data: dict[str, list[str]] | None) -> QueryDict:
    """Inverse of :func:`params_to_json`: an immutable ``QueryDict`` like ``request.GET``."""
    query = QueryDict(mutable=True)
    for key, values in (data or {}).items():
        query.setlist(key, [str(v) for v in values])
    query._mutable = False
    return query


def start_export_job(exporter: Exporter, *, user: Any, fmt: str, params: Any = None, path: str = ""):
    """Start the background export of ``exporter`` for ``user``; returns the ``Job``.

    Only the filter parameters travel with the job (never a list of ids): the job applies
    ``restrict(owner, "view")`` and the filters to the data as it is when the job runs.
    """
    from jindu.core.jobs import start_job
    from jindu.core.tasks import export_rows

    return start_job(
        user=user,
        kind=f"export.{exporter.name or exporter.model._meta.label_lower}",
        title=_("导出%(label)s") % {"label": exporter.label},
        task=export_rows,
        params={"exporter": exporter_path(exporter), "fmt": fmt, "params": params_to_json(params), "path": path},
    )

