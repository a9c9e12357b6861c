"""The empty xlsx template of an importer: headers, text-formatted code columns, notes.

Only the header row holds cells. Identity-number, phone and code columns are formatted as
text through the *column's* style (``<col style=…>``), which Excel applies to every cell
typed into the column — no pre-formatted empty rows, so rows appended by a script or
pasted below the header start at row 2.
"""

from __future__ import annotations

import io
from typing import Any

from django.utils.translation import gettext as _


def import_template_xlsx(importer: Any) -> bytes:
    """An empty import template for ``importer`` (:class:`jindu.core.imports.Importer`) as
    xlsx bytes: sheet 1 has the headers (required ones marked ``*`` and shaded) in the
    msgid language, with columns whose spec has ``text_format`` formatted ``@`` (text);
    sheet 2 ("填写说明") explains each column (required, format, choices, aliases)."""
    from openpyxl import Workbook
    from openpyxl.styles import Font, PatternFill
    from openpyxl.utils import get_column_letter

    wb = Workbook()
    ws = wb.active
    ws.title = str(_("导入数据"))[:31]
    # Headers in the msgid language (Chinese) whatever the UI language: one file format.
    bold = Font(bold=True)
    required_fill = PatternFill("solid", fgColor="FFF2CC")
    for i, col in enumerate(importer.columns, start=1):
        required = importer.column_required(col)
        cell = ws.cell(row=1, column=i, value=col.canonical_header + ("*" if required else ""))
        cell.font = bold
        if required:
            cell.fill = required_fill
        letter = get_column_letter(i)
        dim = ws.column_dimensions[letter]
        dim.width = max(12, 2 * len(col.label) + 6)
        if col.text_format:
            dim.number_format = "@"
            cell.number_format = "@"
    ws.freeze_panes = "A2"
    notes = wb.create_sheet(str(_("填写说明")))
    notes.append([str(_("列名")), str(_("是否必填")), str(_("填写要求"))])
    for c in notes[1]:
        c.font = bold
    for col in importer.columns:
        aliases = "、".join(str(a) for a in col.aliases)
        desc = col.describe()
        if aliases:
            desc = (desc + "；" if desc else "") + _("也可用列名：%(aliases)s") % {"aliases": aliases}
        notes.append([col.label, _("必填") if importer.column_required(col) else _("选填"), desc])
    notes.append([])
    notes.append([_("说明"), "", _("表头须为第一行；不要合并单元格；身份证号、编码、电话请以文本格式填写；"
                                 "同一文件中同一记录只能出现一次；有任何错误时整个文件都不会导入。")])
    notes.column_dimensions["A"].width = 18
    notes.column_dimensions["B"].width = 10
    notes.column_dimensions["C"].width = 80
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
