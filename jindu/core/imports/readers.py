"""Reading uploaded spreadsheets (xlsx, csv) into raw cells, with nothing interpreted yet.

This is the one module that talks to openpyxl for reading (DESIGN.md: "openpyxl behind
one adapter module"). It answers *what the file holds*: the header row and, per data row,
each cell's raw value and how the spreadsheet typed it. What a cell *means* (a date, an
identity number, a code) is decided by the column specs in :mod:`jindu.core.imports.columns`.

Refused at file level (:class:`FileRejected`, message in Chinese):

- old binary ``.xls`` and anything that is neither an xlsx workbook nor a csv file;
- csv bytes that are neither UTF-8 (with or without BOM) nor GB18030 — a superset of
  GBK and GB2312 — and UTF-16 files: never read as mojibake (peer case 4);
- xlsx sheets with merged cells, naming each range ("合并单元格 A2:A4"): a merged value
  belongs to one cell only, the others read as empty (peer case 5);
- a file without a header row.

Formula cells (``=HYPERLINK(…)``, ``=1+1``) are read as kind ``formula``, never as their
cached result: a workbook saved by a script has no cached result (the cell would read as
blank) and one saved by Excel may hold a stale one. The engine refuses them per cell.
:func:`estimate_rows` counts rows cheaply (no cell parsing) to decide whether an upload
is validated in the request or as a background job.

Rows whose cells are all empty (trailing rows Excel keeps after a deletion) are dropped;
row numbers stay the spreadsheet's own (the header is row 1 when it is the first row).

Streaming: :func:`open_table` reads the header row and returns a :class:`SheetStream`
whose rows are produced one at a time as the file is decompressed and parsed (openpyxl's
read-only mode for xlsx, the ``csv`` module for csv); iterating it again reads the file
again. Nothing but the current row is held, so memory does not grow with the file (the
xlsx shared-strings table, which openpyxl loads whole, aside). :func:`read_table` is the
same reader with every row kept in a list, for small files and tests. :func:`spool` copies
a stream's rows to a temporary file (compact pickled chunks) so that a commit can read
them again without parsing the workbook inside its transaction; :func:`record_rows` keeps
that copy while the rows are read (the preview), and :func:`open_spool` reads a stored copy
back once its HMAC is verified (the commit).
"""

from __future__ import annotations

import csv
import hmac
import io
import pickle
import re
import tempfile
import unicodedata
import zipfile
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, NamedTuple

from django.utils.translation import gettext as _

XLSX, CSV = "xlsx", "csv"

# Kinds of raw cell.
TEXT, NUMBER, DATE, BOOL, ERROR, EMPTY, FORMULA = "text", "number", "date", "bool", "error", "empty", "formula"


class FileRejected(Exception):
    """The whole file cannot be read; ``str(exc)`` is the Chinese message for the user."""


class RawCell(NamedTuple):
    """One cell as the file stored it.

    ``kind`` is ``text`` (csv values are always text), ``number`` (``value`` is ``int`` or
    ``float``), ``date`` (``datetime``/``date``/``time`` from a date-formatted cell),
    ``bool``, ``error`` (``#N/A``…), ``formula`` (``value`` is the formula text; xlsx only)
    or ``empty``. ``number_format`` is the xlsx format
    code (``"0000"``, ``"General"``, ``"@"``), empty for csv. ``coordinate`` is ``"C5"``.
    (A named tuple: a 100,000-row file makes a million of them.)
    """

    value: Any
    kind: str
    number_format: str = ""
    coordinate: str = ""

    @property
    def is_empty(self) -> bool:
        return self.kind == EMPTY


@dataclass
class Table:
    """The sheet read: ``headers`` (raw header text per column position, ``""`` where
    none), ``header_row`` (its spreadsheet row number) and ``rows`` as
    ``(row_number, [RawCell per header position])``, empty rows dropped."""

    file_type: str
    headers: list[str]
    header_row: int
    rows: list[tuple[int, list[RawCell]]] = field(default_factory=list)

    def __iter__(self) -> Iterator[tuple[int, list[RawCell]]]:
        return iter(self.rows)

    @property
    def estimated_rows(self) -> int:
        return len(self.rows)


class SheetStream:
    """A sheet read lazily: ``file_type``, ``headers`` and ``header_row`` as in
    :class:`Table`, known once :func:`open_table` returns; iterating gives
    ``(row_number, [RawCell per header position])`` one row at a time (empty rows
    dropped), reading the file from the start each time. ``estimated_rows`` is
    :func:`estimate_rows`' count (no cell parsed), for progress bars."""

    def __init__(self, file_type: str, headers: list[str], header_row: int,
                 rows: Callable[[], Iterator[tuple[int, list[RawCell]]]], estimated_rows: int = 0):
        self.file_type = file_type
        self.headers = headers
        self.header_row = header_row
        self._rows = rows
        self.estimated_rows = estimated_rows

    def __iter__(self) -> Iterator[tuple[int, list[RawCell]]]:
        return self._rows()


def normalize_header(text: Any) -> str:
    """The comparable form of a header: NFKC (full-width letters/brackets to ASCII), every
    whitespace (spaces, U+3000, tabs, line breaks inside a cell) removed, and the ``*``
    that templates put on required columns stripped."""
    if text is None:
        return ""
    s = unicodedata.normalize("NFKC", str(text))
    s = "".join(ch for ch in s if not ch.isspace() and unicodedata.category(ch) != "Cf")
    return s.strip("*")


def column_letter(index: int) -> str:
    """0-based column index → spreadsheet letters (0 → A, 27 → AB)."""
    letters = ""
    n = index + 1
    while n:
        n, rem = divmod(n - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def detect_type(data: bytes, filename: str = "") -> str:
    """``"xlsx"`` or ``"csv"`` from the content (magic bytes), the name only breaking ties.

    Raises :class:`FileRejected` for ``.xls`` (OLE2) files and other binaries.
    """
    name = filename.lower()
    if data[:4] == b"PK\x03\x04":
        return XLSX
    if data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        raise FileRejected(_("不支持旧版 Excel（.xls）文件，请在 Excel 中另存为 .xlsx 后上传。"))
    if name.endswith((".xlsx", ".xlsm")):
        raise FileRejected(_("文件不是有效的 .xlsx 工作簿（可能已损坏），请重新保存后上传。"))
    if name.endswith((".csv", ".txt")) or not name:
        return CSV
    raise FileRejected(_("只支持 .xlsx 和 .csv 文件。"))


def decode_csv(data: bytes) -> str:
    """Decode csv bytes: UTF-8 (a BOM is removed) if valid, else GB18030, else refuse.

    GB18030 is tried as a whole-file strict decode, so one undecodable byte rejects the
    file. Text that decodes as GB18030 but holds C0 control characters or private-use
    characters (what other encodings such as Latin-1 or Big5 produce when read as GB18030)
    is refused too. Raises :class:`FileRejected` with an encoding error.
    """
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise FileRejected(_("文件编码为 UTF-16，无法读取：请另存为“CSV UTF-8（逗号分隔）”后上传。"))
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            raise FileRejected(_("文件以 UTF-8 标记开头，但内容不是有效的 UTF-8 编码，无法读取。")) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        text = data.decode("gb18030")
    except UnicodeDecodeError:
        raise FileRejected(
            _("文件编码无法识别：既不是 UTF-8，也不是 GB18030/GBK。请另存为“CSV UTF-8（逗号分隔）”后上传。")
        ) from None
    if any(_suspicious(ch) for ch in text):
        raise FileRejected(
            _("文件编码无法识别：按 GB18030/GBK 读取出现乱码字符。请另存为“CSV UTF-8（逗号分隔）”后上传。")
        )
    return text


def _suspicious(ch: str) -> bool:
    if ch in "\t\r\n":
        return False
    cat = unicodedata.category(ch)
    return cat == "Cc" or cat == "Co"


def open_table(data: bytes, filename: str = "") -> SheetStream:
    """Open ``data`` (the uploaded file's bytes) for streaming: the header row is read now,
    the data rows when the returned :class:`SheetStream` is iterated.

    Raises :class:`FileRejected` for what the module docstring lists; a csv whose syntax
    breaks further down raises it while being iterated.
    """
    kind = detect_type(data, filename)
    stream = _open_xlsx(data) if kind == XLSX else _open_csv(data)
    if not any(normalize_header(h) for h in stream.headers):
        raise FileRejected(_("文件中没有表头行。"))
    return stream


def read_table(data: bytes, filename: str = "") -> Table:
    """Read ``data`` (the uploaded file's bytes) into a :class:`Table`, every row in memory
    (small files, tests; imports stream with :func:`open_table`).

    Raises :class:`FileRejected` (see the module docstring for when).
    """
    stream = open_table(data, filename)
    return Table(stream.file_type, stream.headers, stream.header_row, list(stream))


# -- csv -------------------------------------------------------------------------------


def _csv_error(exc: csv.Error) -> FileRejected:
    return FileRejected(_("CSV 格式错误：%(error)s") % {"error": exc})


def _open_csv(data: bytes) -> SheetStream:
    from jindu.core.exports import unescape_formula

    text = decode_csv(data)
    headers: list[str] | None = None
    header_row = 0
    try:
        for number, record in enumerate(csv.reader(io.StringIO(text, newline="")), start=1):
            if any(v.strip() for v in record):
                headers, header_row = [unescape_formula(v) for v in record], number
                break
    except csv.Error as exc:
        raise _csv_error(exc) from None
    headers = headers or []
    width = len(headers)
    letters = [column_letter(i) for i in range(width)]

    def rows() -> Iterator[tuple[int, list[RawCell]]]:
        reader = csv.reader(io.StringIO(text, newline=""))
        try:
            for number, record in enumerate(reader, start=1):
                if number <= header_row or not any(v.strip() for v in record):
                    continue
                cells = []
                for i in range(width):
                    # Our csv exports prefix formula-like text with an apostrophe; take it off.
                    value = unescape_formula(record[i]) if i < len(record) else ""
                    cells.append(RawCell(value, TEXT if value.strip() else EMPTY, "", f"{letters[i]}{number}"))
                yield number, cells
        except csv.Error as exc:
            raise _csv_error(exc) from None

    lines = data.count(b"\n") + (0 if data.endswith(b"\n") or not data else 1)
    return SheetStream(CSV, headers, header_row, rows, max(0, lines - header_row))


# -- xlsx ------------------------------------------------------------------------------


_MERGE_REF = re.compile(r"^[A-Z]+[0-9]+(:[A-Z]+[0-9]+)?$")
_MERGE_TAG = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?mergeCell\s[^>]*?\bref=\"([^\"]*)\"")
_ROW_TAG = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?row[\s>/]")
_REL_NS = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"


def _bad_workbook() -> FileRejected:
    return FileRejected(_("文件不是有效的 .xlsx 工作簿（可能已损坏），请重新保存后上传。"))


def _load_workbook(data: bytes) -> Any:
    """The workbook in openpyxl's read-only mode, formulas as formulas.

    Loaded through openpyxl's ``ExcelReader`` with one change: the sheets are not sized on
    load. openpyxl looks for a ``<dimension>`` element first, and in files that have none
    (openpyxl's own write-only output, many exporters) that search parses the whole sheet
    — once per load, before a single row is read. The size is never used here: the rows
    are read as they are (``reset_dimensions``)."""
    from openpyxl.reader.excel import ExcelReader
    from openpyxl.utils.exceptions import InvalidFileException
    from openpyxl.worksheet._read_only import ReadOnlyWorksheet

    class UnsizedSheet(ReadOnlyWorksheet):
        def _get_size(self):
            pass

    class Reader(ExcelReader):
        def read_worksheets(self):
            for sheet, rel in self.parser.find_sheets():
                if rel.target not in self.valid_files or "chartsheet" in rel.Type:
                    continue
                ws = UnsizedSheet(self.wb, sheet.name, rel.target, self.shared_strings)
                ws.sheet_state = sheet.state
                self.wb._sheets.append(ws)

    try:
        # data_only=False: formula cells come back as formulas (data_type "f") so they can be
        # refused, instead of as a cached result that may be missing or stale.
        reader = Reader(io.BytesIO(data), read_only=True, keep_vba=False, data_only=False, keep_links=False)
        reader.read()
        return reader.wb
    except (InvalidFileException, zipfile.BadZipFile, KeyError, ValueError, OSError):
        raise _bad_workbook() from None


def _open_xlsx(data: bytes) -> SheetStream:
    wb = _load_workbook(data)
    try:
        if not wb.worksheets:
            raise FileRejected(_("工作簿中没有工作表。"))
        ws = wb.worksheets[0]
        row_tags, merged = _scan_sheet(wb._archive, getattr(ws, "_worksheet_path", None))
        if merged:
            shown = "、".join(merged[:10]) + ("……" if len(merged) > 10 else "")
            raise FileRejected(
                _("工作表“%(sheet)s”含有合并单元格 %(ranges)s：合并后只有第一个单元格有值，其余行会被读成空白。"
                  "请取消合并并在每一行填写完整后再上传。") % {"sheet": ws.title, "ranges": shown}
            )
        headers: list[str] | None = None
        header_row = 0
        # Files written by some tools carry a wrong <dimension>; read what is really there.
        ws.reset_dimensions()
        for number, row in enumerate(ws.iter_rows(values_only=True), start=1):
            if any(v is not None and str(v).strip() for v in row):
                headers, header_row = ["" if v is None else str(v) for v in row], number
                break
    except BaseException:
        wb.close()
        raise
    headers = headers or []
    width = len(headers)
    opened = [wb]  # the first pass reuses this workbook (its shared strings are parsed)

    def rows() -> Iterator[tuple[int, list[RawCell]]]:
        book = opened.pop() if opened else _load_workbook(data)
        try:
            sheet = book.worksheets[0]
            sheet.reset_dimensions()
            letters = [column_letter(i) for i in range(width)]
            for number, row in enumerate(sheet.iter_rows(min_row=header_row + 1), start=header_row + 1):
                cells = [_raw_cell(c, f"{letters[i]}{number}") for i, c in enumerate(row[:width])]
                if len(cells) < width:
                    cells += [RawCell(None, EMPTY, "", f"{letters[i]}{number}") for i in range(len(cells), width)]
                if all(c.kind == EMPTY for c in cells):
                    continue
                yield number, cells
        finally:
            book.close()

    return SheetStream(XLSX, headers, header_row, rows, max(0, row_tags - header_row))


def _raw_cell(cell: Any, coordinate: str) -> RawCell:
    value = cell.value
    if value is None:
        return RawCell(None, EMPTY, getattr(cell, "number_format", "") or "", coordinate)
    fmt = cell.number_format or ""
    dtype = cell.data_type
    if dtype == "f":
        return RawCell(str(value), FORMULA, fmt, coordinate)
    if dtype == "e":
        return RawCell(str(value), ERROR, fmt, coordinate)
    if isinstance(value, bool):
        return RawCell(value, BOOL, fmt, coordinate)
    if isinstance(value, (int, float)):
        return RawCell(value, NUMBER, fmt, coordinate)
    if hasattr(value, "year") or hasattr(value, "hour"):
        return RawCell(value, DATE, fmt, coordinate)
    text = str(value)
    if not text.strip():
        return RawCell(text, EMPTY, fmt, coordinate)
    return RawCell(text, TEXT, fmt, coordinate)


def _scan_sheet(archive: zipfile.ZipFile | None, path: str | None) -> tuple[int, list[str]]:
    """``(number of <row> elements, merged ranges)`` of a sheet part, from its bytes: the
    part is decompressed in 1 MB chunks and searched for the two tags, without parsing
    XML (``<`` cannot occur unescaped in cell text), about 0.2 s for 100,000 rows.
    (Read-only worksheets do not expose ``merged_cells``; ``<mergeCells>`` follows the
    cell data, so the whole part is scanned.)"""
    if not path or archive is None:
        return 0, []
    count, merged, tail = 0, [], b""
    with archive.open(path) as fh:
        while True:
            chunk = fh.read(1 << 20)
            buf = tail + chunk
            if chunk:
                # A tag cut at the chunk boundary is searched with the next chunk.
                cut = buf.rfind(b"<")
                if cut == -1 or len(buf) - cut > 4096:
                    cut = len(buf)
            else:
                cut = len(buf)
            count += len(_ROW_TAG.findall(buf, 0, cut))
            if b"mergeCell" in buf:
                for ref in _MERGE_TAG.findall(buf, 0, cut):
                    text = ref.decode("ascii", "replace")
                    if _MERGE_REF.match(text):
                        merged.append(text)
            tail = buf[cut:]
            if not chunk:
                break
    return count, merged


def estimate_rows(data: bytes, filename: str = "") -> int:
    """About how many data rows the file holds, without reading any cell: for csv the
    line breaks, for xlsx the ``<row>`` elements of the first sheet (streamed from the
    zip, ~0.1 s for 60,000 rows), minus the header row.

    May over-count (quoted line breaks in csv, formatted empty rows in xlsx); it only
    decides whether the preview runs in the request or as a background job, and the
    preview stores the real count. Unreadable files give 0 (the preview reports why).
    """
    try:
        kind = detect_type(data, filename)
    except FileRejected:
        return 0
    if kind == CSV:
        lines = data.count(b"\n") + (0 if data.endswith(b"\n") or not data else 1)
        return max(0, lines - 1)
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            path = _first_sheet_path(archive)
            if path is None:
                return 0
            count, _merged = _scan_sheet(archive, path)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError):
        return 0
    return max(0, count - 1)


# -- spool -----------------------------------------------------------------------------

#: Rows per pickled chunk of a spool.
SPOOL_CHUNK = 2000
#: Salt of the MAC that guards a stored spool (:func:`record_rows`, :func:`open_spool`).
_SPOOL_SALT = "jindu.core.imports.rows"
_END = "end"


def _spool_mac():
    from django.utils.crypto import salted_hmac

    return salted_hmac(_SPOOL_SALT, b"", algorithm="sha256")


class _SpoolWriter:
    """Rows written to the binary file ``fh`` as pickled objects: the table's shape
    (``file_type``, ``headers``, ``header_row``), chunks of :data:`SPOOL_CHUNK` rows as plain
    tuples, then an end marker with the row count; ``mac`` is the HMAC-SHA256 (keyed by
    ``SECRET_KEY``) of every byte written."""

    def __init__(self, fh: Any, stream: Any):
        self.fh = fh
        self.rows = 0
        self._chunk: list = []
        self._mac = _spool_mac()
        self._dump({"file_type": stream.file_type, "headers": list(stream.headers),
                    "header_row": stream.header_row})

    def _dump(self, obj: Any) -> None:
        data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
        self.fh.write(data)
        self._mac.update(data)

    def add(self, number: int, cells: list[RawCell]) -> None:
        self._chunk.append((number, [tuple(c) for c in cells]))
        if len(self._chunk) >= SPOOL_CHUNK:
            self._flush()

    def _flush(self) -> None:
        if self._chunk:
            self._dump(self._chunk)
            self.rows += len(self._chunk)
            self._chunk = []

    def close(self) -> str:
        self._flush()
        self._dump((_END, self.rows))
        return self._mac.hexdigest()


class SpooledTable:
    """Rows read back from a spool file (see :class:`_SpoolWriter`), with the interface of
    a :class:`SheetStream`; iterable any number of times. Built by :func:`spool` (an
    anonymous temporary file) or :func:`open_spool` (a stored one). Reading back costs about
    a fifth of the xlsx parse. ``close()`` closes the file (a temporary one is removed)."""

    def __init__(self, fh: Any, *, estimated_rows: int = 0):
        self._file = fh
        fh.seek(0)
        shape = pickle.load(fh)
        self._start = fh.tell()
        self.file_type = shape["file_type"]
        self.headers = shape["headers"]
        self.header_row = shape["header_row"]
        self.estimated_rows = estimated_rows

    def __iter__(self) -> Iterator[tuple[int, list[RawCell]]]:
        fh = self._file
        fh.seek(self._start)
        make = RawCell._make
        while True:
            try:
                chunk = pickle.load(fh)
            except EOFError:
                raise FileRejected(_("已读取的导入数据不完整，请重新预览该文件后再导入")) from None
            if isinstance(chunk, tuple) and chunk and chunk[0] == _END:
                return
            for number, cells in chunk:
                yield number, [make(c) for c in cells]

    def close(self) -> None:
        self._file.close()


def spool(stream: SheetStream | Table) -> SpooledTable:
    """Read every row of ``stream`` now into a :class:`SpooledTable` on an anonymous
    temporary file. May raise :class:`FileRejected` (a csv broken further down)."""
    fh = tempfile.TemporaryFile(prefix="jindu-import-")
    try:
        writer = _SpoolWriter(fh, stream)
        for number, cells in stream:
            writer.add(number, cells)
        writer.close()
        return SpooledTable(fh, estimated_rows=writer.rows)
    except BaseException:
        fh.close()
        raise


class RecordingStream:
    """``stream`` passed through unchanged while each row is also written to the binary file
    ``fh`` as a spool (:func:`record_rows`). Once the rows have been iterated to the end,
    ``complete`` is true and ``mac`` is the spool's HMAC (to give :func:`open_spool`)."""

    def __init__(self, stream: SheetStream | Table, fh: Any):
        self.file_type = stream.file_type
        self.headers = stream.headers
        self.header_row = stream.header_row
        self.estimated_rows = getattr(stream, "estimated_rows", 0)
        self._stream = stream
        self._writer = _SpoolWriter(fh, stream)
        self.complete = False
        self.mac = ""

    def __iter__(self) -> Iterator[tuple[int, list[RawCell]]]:
        if self.complete:
            raise RuntimeError("a RecordingStream is read once")
        add = self._writer.add
        for number, cells in self._stream:
            add(number, cells)
            yield number, cells
        self.mac = self._writer.close()
        self.complete = True


def record_rows(stream: SheetStream | Table, fh: Any) -> RecordingStream:
    """Read ``stream`` as usual, keeping a copy of its rows in ``fh`` (a spool: the cells
    as the file stored them, nothing interpreted), so that a later step reads the rows
    again without parsing the workbook: the preview records them and the commit reads the
    record (:func:`open_spool`)."""
    return RecordingStream(stream, fh)


def open_spool(fh: Any, *, mac: str, estimated_rows: int = 0) -> SpooledTable | None:
    """A :class:`SpooledTable` over the stored spool ``fh`` (binary, seekable) if its bytes
    still have the HMAC ``mac`` (:attr:`RecordingStream.mac`), else ``None`` (and ``fh`` is
    closed): a spool altered or cut short is never unpickled."""
    check = _spool_mac()
    fh.seek(0)
    for block in iter(lambda: fh.read(1 << 20), b""):
        check.update(block)
    if not mac or not hmac.compare_digest(check.hexdigest(), mac):
        fh.close()
        return None
    return SpooledTable(fh, estimated_rows=estimated_rows)


def _first_sheet_path(archive: zipfile.ZipFile) -> str | None:
    """The zip path of the workbook's first sheet (what :func:`read_table` reads)."""
    from xml.etree.ElementTree import fromstring

    names = set(archive.namelist())
    try:
        workbook = fromstring(archive.read("xl/workbook.xml"))
        rels = fromstring(archive.read("xl/_rels/workbook.xml.rels"))
        sheet = next(e for e in workbook.iter() if e.tag.rsplit("}", 1)[-1] == "sheet")
        rid = sheet.get(f"{_REL_NS}id")
        target = next(e.get("Target", "") for e in rels if e.get("Id") == rid)
        path = target.lstrip("/") if target.startswith("/") else f"xl/{target}"
        if path in names:
            return path
    except (KeyError, StopIteration, SyntaxError, ValueError):
        pass
    sheets = sorted(n for n in names if n.startswith("xl/worksheets/") and n.endswith(".xml"))
    return sheets[0] if sheets else None
