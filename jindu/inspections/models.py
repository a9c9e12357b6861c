"""Inspections: the places inspected, checklist templates (versioned), inspections with a
result per checklist item, and the hazards they find until they are rectified and closed.

One engine for every kind of target: entertainment and other at-risk venues, express
delivery and logistics outlets, and (registered by the precursors app) enterprises that
trade or use precursor chemicals. The rules (scorecard, deadlines, four-colour status)
are in :mod:`jindu.inspections.rules`; writes go through :mod:`jindu.inspections.services`.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from jindu.core.fields import PhoneNumberField
from jindu.core.models import VersionedModel
from jindu.inspections.choices import (
    KIND_CATEGORY,
    HazardStatus,
    ItemOutcome,
    TargetCategory,
    TargetKind,
    TargetStatus,
)

# China's extent, for a plausibility check of typed coordinates (WGS-84 / GCJ-02 degrees).
LONGITUDE_RANGE = (Decimal("73"), Decimal("136"))
LATITUDE_RANGE = (Decimal("3"), Decimal("54"))


class Target(VersionedModel):
    """A place that is inspected: a KTV, bar, chess and card room, hotel or other at-risk
    venue, an express-delivery or logistics outlet, or a precursor-chemical enterprise.

    ``division`` (usually the town or village) decides who may see it. ``longitude`` /
    ``latitude`` are optional decimal degrees used only to draw the status map.
    ``source_model`` / ``source_key`` link a target registered by another app to its own
    record (``"precursors.Enterprise"``, ``"42"``); they are empty for targets registered
    here. ``is_demo`` marks rows created by ``seed_demo``.
    """

    kind = models.CharField(_("检查对象类型"), max_length=32, choices=TargetKind.choices)
    name = models.CharField(_("名称"), max_length=200)
    division = models.ForeignKey(
        "geo.Division", verbose_name=_("所属区划"), on_delete=models.PROTECT, related_name="inspection_targets"
    )
    address = models.CharField(_("地址"), max_length=255, blank=True)
    longitude = models.DecimalField(_("经度"), max_digits=9, decimal_places=6, null=True, blank=True)
    latitude = models.DecimalField(_("纬度"), max_digits=8, decimal_places=6, null=True, blank=True)
    licence_number = models.CharField(_("许可证/执照编号"), max_length=64, blank=True)
    operator_name = models.CharField(_("负责人"), max_length=50, blank=True)
    operator_phone = PhoneNumberField(_("负责人电话"), blank=True)
    status = models.CharField(_("经营状态"), max_length=16, choices=TargetStatus.choices,
                              default=TargetStatus.OPERATING)
    note = models.TextField(_("备注"), blank=True)
    source_model = models.CharField(_("来源模块"), max_length=64, blank=True, editable=False)
    source_key = models.CharField(_("来源记录"), max_length=64, blank=True, editable=False)
    is_demo = models.BooleanField(_("演示数据"), default=False, editable=False)

    history = HistoricalRecords()
    scope_division_path = "division"
    person_name_fields = ("operator_name",)

    class Meta:
        verbose_name = _("检查对象")
        verbose_name_plural = _("检查对象")
        ordering = ["division__code", "kind", "name"]
        constraints = [
            models.UniqueConstraint(fields=["division", "kind", "name"], name="inspections_target_unique_name"),
            models.UniqueConstraint(fields=["source_model", "source_key"], condition=~Q(source_model=""),
                                    name="inspections_target_unique_source"),
        ]
        indexes = [models.Index(fields=["kind", "division"])]

    def __str__(self) -> str:
        return self.name

    @property
    def category(self) -> str:
        """The :class:`~jindu.inspections.choices.TargetCategory` of this target's kind."""
        return KIND_CATEGORY.get(self.kind, "")

    def clean(self):
        super().clean()
        errors = {}
        if (self.longitude is None) != (self.latitude is None):
            errors["latitude" if self.latitude is None else "longitude"] = _("经度和纬度须同时填写或同时留空。")
        if self.longitude is not None and not LONGITUDE_RANGE[0] <= self.longitude <= LONGITUDE_RANGE[1]:
            errors["longitude"] = _("经度应在 73 至 136 度之间（中国境内），收到 %(v)s。") % {"v": self.longitude}
        if self.latitude is not None and not LATITUDE_RANGE[0] <= self.latitude <= LATITUDE_RANGE[1]:
            errors["latitude"] = _("纬度应在 3 至 54 度之间（中国境内），收到 %(v)s。") % {"v": self.latitude}
        if errors:
            raise ValidationError(errors)


class ChecklistTemplate(VersionedModel):
    """One revision of a checklist profile: the items an inspector checks at a kind of
    target, e.g. "寄递网点五个100%（A）" revision 2.

    A profile is identified by ``code``; editing it creates a new revision (a new row,
    ``is_current`` moved to it) and inspections keep pointing at the revision they were
    recorded with, so an old inspection's results always match its items. Several
    profiles of one category may be current (the switchable variants); ``is_default``
    marks the one offered first. ``source`` names where the items come from.

    An inspection passes when no ``required`` item failed and the score (points of passed
    items over points of applicable items) reaches ``pass_score_pct``. ``rectification_days``
    is the default time given to rectify a failed item.
    Checklists are city-wide configuration: every role with the view permission reads
    them (``scope_national``); who may revise them is decided by the service.
    """

    code = models.SlugField(_("清单代码"), max_length=64)
    revision = models.PositiveIntegerField(_("修订版次"), default=1)
    name = models.CharField(_("清单名称"), max_length=100)
    category = models.CharField(_("适用对象"), max_length=16, choices=TargetCategory.choices)
    source = models.TextField(_("依据与来源"))
    description = models.TextField(_("说明"), blank=True)
    pass_score_pct = models.DecimalField(
        _("合格分数线（%）"), max_digits=5, decimal_places=2, default=Decimal("100"),
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("100"))],
    )
    rectification_days = models.PositiveSmallIntegerField(
        _("默认整改期限（天）"), default=7, validators=[MinValueValidator(1), MaxValueValidator(365)]
    )
    is_current = models.BooleanField(_("现行版本"), default=True)
    is_default = models.BooleanField(_("默认清单"), default=False)
    is_builtin = models.BooleanField(_("系统内置"), default=False, editable=False)
    supersedes = models.OneToOneField(
        "self", verbose_name=_("上一版本"), null=True, blank=True, on_delete=models.PROTECT,
        related_name="superseded_by",
    )
    revision_note = models.CharField(_("修订说明"), max_length=255, blank=True)

    history = HistoricalRecords()
    scope_national = True

    class Meta:
        verbose_name = _("检查清单")
        verbose_name_plural = _("检查清单")
        ordering = ["category", "-is_default", "code", "-revision"]
        constraints = [
            models.UniqueConstraint(fields=["code", "revision"], name="inspections_template_unique_revision"),
            models.UniqueConstraint(fields=["code"], condition=Q(is_current=True),
                                    name="inspections_template_one_current"),
            models.UniqueConstraint(fields=["category"], condition=Q(is_current=True, is_default=True),
                                    name="inspections_template_one_default"),
        ]

    def __str__(self) -> str:
        return f"{self.name}（第{self.revision}版）"


class ChecklistItem(VersionedModel):
    """One line of a checklist revision: what is checked (``text``), its ``points`` in the
    score, and whether it is a "100%" item (``required``): a failure fails the inspection
    whatever the score. ``basis`` cites the rule the item comes from."""

    template = models.ForeignKey(ChecklistTemplate, verbose_name=_("检查清单"), on_delete=models.CASCADE,
                                 related_name="items")
    seq = models.PositiveSmallIntegerField(_("序号"))
    code = models.CharField(_("条目代码"), max_length=32)
    text = models.CharField(_("检查内容"), max_length=300)
    points = models.DecimalField(_("分值"), max_digits=6, decimal_places=2, default=Decimal("1"),
                                 validators=[MinValueValidator(Decimal("0.01"))])
    required = models.BooleanField(_("必须达标（100%项）"), default=False)
    basis = models.CharField(_("依据"), max_length=300, blank=True)

    history = HistoricalRecords()
    scope_national = True

    class Meta:
        verbose_name = _("检查条目")
        verbose_name_plural = _("检查条目")
        ordering = ["template", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["template", "code"], name="inspections_item_unique_code"),
            models.UniqueConstraint(fields=["template", "seq"], name="inspections_item_unique_seq"),
        ]

    def __str__(self) -> str:
        return f"{self.seq}. {self.text}"


class Inspection(VersionedModel):
    """One visit to a target by a (joint) team, checked against one checklist revision.

    ``inspected_at`` is the aware time of the visit. ``units`` are the team's units
    (police, market regulation, culture and tourism…), ``inspectors`` the users present.
    ``follow_up_of`` links a re-inspection to the inspection whose hazards it checks.
    The score fields are computed from the item results by the service when recorded
    (:func:`jindu.inspections.rules.scorecard`) and never typed in. ``closed_at`` is set
    when the file is closed (every hazard closed).
    """

    target = models.ForeignKey(Target, verbose_name=_("检查对象"), on_delete=models.PROTECT,
                               related_name="inspections")
    template = models.ForeignKey(ChecklistTemplate, verbose_name=_("检查清单"), on_delete=models.PROTECT,
                                 related_name="inspections")
    inspected_at = models.DateTimeField(_("检查时间"))
    units = models.ManyToManyField("org.Unit", verbose_name=_("检查单位"), blank=True, related_name="inspections")
    inspectors = models.ManyToManyField(settings.AUTH_USER_MODEL, verbose_name=_("检查人员"), blank=True,
                                        related_name="inspections_done")
    campaign = models.ForeignKey("enforcement.Campaign", verbose_name=_("专项行动"), null=True, blank=True,
                                 on_delete=models.PROTECT, related_name="inspections")
    follow_up_of = models.ForeignKey("self", verbose_name=_("复查的检查"), null=True, blank=True,
                                     on_delete=models.PROTECT, related_name="reinspections")
    summary = models.TextField(_("检查情况"), blank=True)
    passed = models.BooleanField(_("检查合格"), default=False, editable=False)
    score_pct = models.DecimalField(_("得分率（%）"), max_digits=5, decimal_places=1, default=Decimal("0"),
                                    editable=False)
    items_passed = models.PositiveSmallIntegerField(_("合格项"), default=0, editable=False)
    items_failed = models.PositiveSmallIntegerField(_("不合格项"), default=0, editable=False)
    items_na = models.PositiveSmallIntegerField(_("不适用项"), default=0, editable=False)
    required_failed = models.PositiveSmallIntegerField(_("未达标的100%项"), default=0, editable=False)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("录入人"), null=True, blank=True,
                                    on_delete=models.SET_NULL, related_name="+", editable=False)
    closed_at = models.DateTimeField(_("销号时间"), null=True, blank=True, editable=False)
    closing_note = models.CharField(_("销号说明"), max_length=500, blank=True, editable=False)
    is_demo = models.BooleanField(_("演示数据"), default=False, editable=False)

    history = HistoricalRecords()
    scope_division_path = "target__division"

    class Meta:
        verbose_name = _("检查记录")
        verbose_name_plural = _("检查记录")
        ordering = ["-inspected_at", "-pk"]
        indexes = [
            models.Index(fields=["target", "inspected_at"]),
            models.Index(fields=["inspected_at"]),
        ]

    def __str__(self) -> str:
        from django.utils import timezone

        return f"{self.target} {timezone.localtime(self.inspected_at):%Y-%m-%d}"


class ItemResult(VersionedModel):
    """The result of one checklist item at one inspection: pass, fail or not applicable,
    with the inspector's note."""

    inspection = models.ForeignKey(Inspection, verbose_name=_("检查记录"), on_delete=models.CASCADE,
                                   related_name="results")
    item = models.ForeignKey(ChecklistItem, verbose_name=_("检查条目"), on_delete=models.PROTECT,
                             related_name="results")
    outcome = models.CharField(_("结果"), max_length=8, choices=ItemOutcome.choices)
    note = models.CharField(_("说明"), max_length=500, blank=True)

    history = HistoricalRecords()
    scope_division_path = "inspection__target__division"

    class Meta:
        verbose_name = _("检查条目结果")
        verbose_name_plural = _("检查条目结果")
        ordering = ["inspection", "item__seq"]
        constraints = [
            models.UniqueConstraint(fields=["inspection", "item"], name="inspections_result_unique_item"),
        ]

    def __str__(self) -> str:
        return f"{self.item.code}: {self.get_outcome_display()}"


class Hazard(VersionedModel):
    """A hazard (隐患) found at an inspection, to be rectified by a local date.

    ``deadline`` is a local date: due all of that day, overdue from the next local
    midnight (:func:`jindu.core.timeutils.due_status`). ``found_at`` repeats the
    inspection's time so period counts need no join. ``rectified_at`` is when the target
    reported the fix; ``verified_by`` is the re-inspection that confirmed it.
    """

    target = models.ForeignKey(Target, verbose_name=_("检查对象"), on_delete=models.PROTECT, related_name="hazards")
    inspection = models.ForeignKey(Inspection, verbose_name=_("发现于检查"), on_delete=models.PROTECT,
                                   related_name="hazards")
    item = models.ForeignKey(ChecklistItem, verbose_name=_("检查条目"), null=True, blank=True,
                             on_delete=models.PROTECT, related_name="hazards")
    description = models.TextField(_("隐患描述"))
    found_at = models.DateTimeField(_("发现时间"))
    deadline = models.DateField(_("整改期限"))
    status = models.CharField(_("状态"), max_length=16, choices=HazardStatus.choices, default=HazardStatus.OPEN)
    rectified_at = models.DateTimeField(_("整改完成时间"), null=True, blank=True)
    rectification_note = models.TextField(_("整改情况"), blank=True)
    verified_by = models.ForeignKey(Inspection, verbose_name=_("复查记录"), null=True, blank=True,
                                    on_delete=models.PROTECT, related_name="verified_hazards")
    verified_at = models.DateTimeField(_("复查时间"), null=True, blank=True)
    closed_at = models.DateTimeField(_("销号时间"), null=True, blank=True)
    closing_note = models.CharField(_("销号说明"), max_length=500, blank=True)
    is_demo = models.BooleanField(_("演示数据"), default=False, editable=False)

    history = HistoricalRecords()
    scope_division_path = "target__division"

    class Meta:
        verbose_name = _("隐患")
        verbose_name_plural = _("隐患")
        ordering = ["deadline", "pk"]
        indexes = [
            models.Index(fields=["target", "status"]),
            models.Index(fields=["found_at"]),
            models.Index(fields=["status", "deadline"]),
        ]

    def __str__(self) -> str:
        return f"{self.target}：{self.description[:30]}"

    def clean(self):
        super().clean()
        if self.inspection_id and self.target_id and self.inspection.target_id != self.target_id:
            raise ValidationError({"inspection": _("隐患所属检查记录的检查对象与隐患的检查对象不一致。")})

    @property
    def due(self) -> str | None:
        """``"upcoming"``/``"due_today"``/``"overdue"`` while open; ``None`` once rectified."""
        from jindu.inspections.rules import hazard_due

        return hazard_due(self)
