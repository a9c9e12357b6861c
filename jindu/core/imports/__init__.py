"""Spreadsheet import for every app: xlsx/csv readers, typed columns, one validation path
(the app's own form), preview, and all-or-nothing commit kept as import batches.

Declaring an importer (in an app's ``importers.py``, discovered automatically)::

    from jindu.core.imports import Importer, register, TextColumn, ChoiceColumn, ForeignKeyColumn

    @register
    class UnitImporter(Importer):
        name = "org.unit"                 # registry key, stored on each batch
        label = _("单位")
        model = Unit
        form_class = UnitImportForm       # the ModelForm manual entry uses
        key_fields = ("division", "name") # in-file duplicates; update when it matches
        personal_data = False             # True: commits write an AccessLog (import)
        columns = [
            TextColumn("name", _("单位名称")),
            ChoiceColumn("kind", _("单位类型"), choices=UnitKind),
            ForeignKeyColumn("division", _("所属区划"), queryset=lambda user: ..., code_length=12),
        ]

Pages: ``ImportUploadView.as_view(importer_name="org.unit")`` (``jindu.core.views.imports``)
uploads and previews; the batch page commits or cancels; ``ImportTemplateView`` gives
the empty xlsx template. Services: :mod:`jindu.core.imports.services`.
"""

from jindu.core.imports.base import Importer, get_importer, register
from jindu.core.imports.columns import (
    DATE_CJK,
    DATE_ISO,
    DATE_SLASH,
    DEFAULT_DATE_FORMATS,
    BooleanColumn,
    CellError,
    ChoiceColumn,
    CodeColumn,
    Column,
    DateColumn,
    DecimalColumn,
    ForeignKeyColumn,
    IdentityNumberColumn,
    IntegerColumn,
    PhoneColumn,
    TextColumn,
)
from jindu.core.imports.readers import FileRejected, open_table, read_table

__all__ = [
    "DATE_CJK",
    "DATE_ISO",
    "DATE_SLASH",
    "DEFAULT_DATE_FORMATS",
    "BooleanColumn",
    "CellError",
    "ChoiceColumn",
    "CodeColumn",
    "Column",
    "DateColumn",
    "DecimalColumn",
    "FileRejected",
    "ForeignKeyColumn",
    "IdentityNumberColumn",
    "Importer",
    "IntegerColumn",
    "PhoneColumn",
    "TextColumn",
    "get_importer",
    "open_table",
    "read_table",
    "register",
]
