"""Reference catalogue of controlled narcotic and psychotropic substances.

Shipped from ``data/controlled_substances.csv`` (the 2025 lists, each row with its source)
and kept in step by :mod:`jindu.substances.loaders` after every migration and by
``manage.py load_substances``. Reference data: every role may read it; nobody edits it by
hand (a list change is a new data file).
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from jindu.core.scope import ScopedManager
from jindu.substances.choices import ControlList


class Substance(models.Model):
    """One entry of a national control list (药用类麻醉药品目录, 精神药品目录, 非药用类目录),
    e.g. 甲基苯丙胺, 海洛因, 氯胺酮, 依托咪酯 (Category II psychotropic from 2023-10-01).

    ``(control_list, seq_in_list)`` identifies the row in the official list. ``name_zh`` is the
    list's name without the ``*`` that marks medicinal preparations (kept in ``note``).
    ``street_relevant`` marks substances seen in street drug cases (the reference's flag).
    """

    control_list = models.CharField(_("所属目录"), max_length=32, choices=ControlList.choices)
    seq_in_list = models.PositiveSmallIntegerField(_("目录序号"))
    name_zh = models.CharField(_("中文名称"), max_length=120)
    name_en = models.CharField(_("英文名称"), max_length=500, blank=True)
    cas_number = models.CharField(_("CAS号"), max_length=100, blank=True)
    abbreviation = models.CharField(_("简称或备注"), max_length=200, blank=True)
    street_relevant = models.BooleanField(_("常见滥用"), default=False)
    date_added = models.DateField(_("列管日期"), null=True, blank=True)
    date_added_basis = models.TextField(_("列管日期依据"), blank=True)
    date_confidence = models.CharField(_("日期可信度"), max_length=20, blank=True)
    source_doc = models.TextField(_("来源文件"), blank=True)
    source_ref = models.TextField(_("来源出处"), blank=True)
    is_active = models.BooleanField(_("现行有效"), default=True)

    history = HistoricalRecords()
    scope_national = True  # national reference data: the same for every jurisdiction

    objects = ScopedManager()

    class Meta:
        verbose_name = _("管制物质")
        verbose_name_plural = _("管制物质")
        ordering = ["-street_relevant", "control_list", "seq_in_list"]
        constraints = [
            models.UniqueConstraint(fields=["control_list", "seq_in_list"], name="substances_unique_list_seq"),
        ]
        indexes = [models.Index(fields=["name_zh"])]

    def __str__(self) -> str:
        return self.name_zh
