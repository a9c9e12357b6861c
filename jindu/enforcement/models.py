"""Enforcement: drug cases, suspects, gangs, seizures, campaigns and drug-driving checks."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from jindu.core.fields import BlindIndexField, IdentityNumberField
from jindu.core.models import VersionedModel
from jindu.core.scope import VIEW, ScopedQuerySet, grant_roots, permission_name, scope_q
from jindu.enforcement.choices import (
    CampaignKind,
    CampaignLevel,
    CaseKind,
    CaseStatus,
    DriverCategory,
    Gender,
    HandlingLevel,
    Offence,
    ScreeningResult,
    SeizureForm,
    SuspectRole,
    TargetLevel,
)


class CampaignQuerySet(ScopedQuerySet):
    """Campaigns are declared high and worked low: a district police unit tags its cases
    with the city's 秋冬攻势. Viewing therefore also reaches campaigns declared in a
    division *above* the user's subtree (its ancestors); editing stays in the subtree."""

    def restrict(self, user, action: str = VIEW) -> "CampaignQuerySet":
        if action != VIEW:
            return super().restrict(user, action)
        q = scope_q(self.model, user, action)
        if q is None:
            return self.none()
        if not q:
            return self.all()
        roots = grant_roots(user, permission_name(self.model, action)) or []
        ancestors: set[str] = set()
        for root in roots:
            parts = [p for p in root.split("/") if p]
            for i in range(1, len(parts)):
                ancestors.add("/".join(parts[:i]) + "/")
        return self.filter(q | Q(division__path__in=ancestors))


CampaignManager = models.Manager.from_queryset(CampaignQuerySet)


class Campaign(VersionedModel):
    """A drug-enforcement campaign (专项行动) declared for a period in a division, e.g. the
    city's 2023 秋冬攻势 or the province's 清源断流. One campaign tags the cases,
    inspections and publicity carried out under it."""

    name = models.CharField(_("行动名称"), max_length=100)
    kind = models.CharField(_("行动类型"), max_length=20, choices=CampaignKind.choices)
    level = models.CharField(_("发起层级"), max_length=16, choices=CampaignLevel.choices, default=CampaignLevel.CITY)
    division = models.ForeignKey(
        "geo.Division", verbose_name=_("适用区划"), on_delete=models.PROTECT, related_name="campaigns"
    )
    start_date = models.DateField(_("开始日期"))
    end_date = models.DateField(_("结束日期"))
    description = models.TextField(_("说明"), blank=True)
    is_demo = models.BooleanField(_("演示数据"), default=False, editable=False)

    history = HistoricalRecords()
    scope_division_path = "division"
    objects = CampaignManager()

    class Meta:
        verbose_name = _("专项行动")
        verbose_name_plural = _("专项行动")
        ordering = ["-start_date", "name"]
        constraints = [
            models.UniqueConstraint(fields=["division", "name", "start_date"], name="enforcement_campaign_unique"),
            models.CheckConstraint(
                condition=Q(end_date__gte=models.F("start_date")), name="enforcement_campaign_period_order"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self):
        super().clean()
        if self.start_date and self.end_date and self.end_date < self.start_date:
            raise ValidationError({"end_date": _("结束日期不能早于开始日期。")})

    def covers(self, day) -> bool:
        """Whether the local date ``day`` falls inside the campaign period (both ends included)."""
        return self.start_date <= day <= self.end_date


class Case(VersionedModel):
    """A drug case (毒品案件) handled by the police: criminal or administrative, filed,
    solved and (criminal) transferred for prosecution, possibly a target case of the
    ministry, province or city, tagged with the campaigns it was worked under.

    ``division`` (district or town where the case belongs) decides who may see it;
    ``handling_unit`` and ``handling_level`` record which level of the three-level
    mechanism (city bureau, branch, station) solved it. Statistics count a case in the
    period of its ``solved_on`` (破获) or ``filed_on`` (立案) local date.
    """

    number = models.CharField(_("案件编号"), max_length=50, unique=True)
    name = models.CharField(_("案件名称"), max_length=200)
    kind = models.CharField(_("案件类别"), max_length=16, choices=CaseKind.choices, default=CaseKind.CRIMINAL)
    offence = models.CharField(_("案由"), max_length=32, choices=Offence.choices)
    division = models.ForeignKey(
        "geo.Division", verbose_name=_("发案区划"), on_delete=models.PROTECT, related_name="drug_cases"
    )
    handling_unit = models.ForeignKey(
        "org.Unit", verbose_name=_("办案单位"), on_delete=models.PROTECT, related_name="drug_cases"
    )
    handling_level = models.CharField(
        _("办案层级"), max_length=16, choices=HandlingLevel.choices, default=HandlingLevel.STATION
    )
    filed_on = models.DateField(_("立案日期"))
    solved_on = models.DateField(_("破案日期"), null=True, blank=True)
    transferred_on = models.DateField(_("移送起诉日期"), null=True, blank=True)
    closed_on = models.DateField(_("结案日期"), null=True, blank=True)
    status = models.CharField(_("案件状态"), max_length=16, choices=CaseStatus.choices, default=CaseStatus.FILED)
    target_level = models.CharField(
        _("目标案件级别"), max_length=16, choices=TargetLevel.choices, default=TargetLevel.NONE, blank=True
    )
    campaigns = models.ManyToManyField(Campaign, verbose_name=_("专项行动"), blank=True, related_name="cases")
    linked_cases = models.ManyToManyField("self", verbose_name=_("关联案件"), blank=True, symmetrical=True)
    summary = models.TextField(_("简要案情"), blank=True)
    is_demo = models.BooleanField(_("演示数据"), default=False, editable=False)

    history = HistoricalRecords(m2m_fields=[campaigns])
    scope_division_path = "division"

    class Meta:
        verbose_name = _("毒品案件")
        verbose_name_plural = _("毒品案件")
        ordering = ["-filed_on", "-id"]
        indexes = [
            models.Index(fields=["division", "solved_on"]),
            models.Index(fields=["kind", "solved_on"]),
            models.Index(fields=["filed_on"]),
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.name}"

    def clean(self):
        super().clean()
        errors: dict[str, str] = {}
        if self.solved_on and self.filed_on and self.solved_on < self.filed_on:
            errors["solved_on"] = _("破案日期不能早于立案日期。")
        if self.transferred_on:
            if self.kind == CaseKind.ADMINISTRATIVE:
                errors["transferred_on"] = _("行政案件不移送起诉。")
            elif not self.solved_on:
                errors["transferred_on"] = _("未破案的案件不能移送起诉。")
            elif self.transferred_on < self.solved_on:
                errors["transferred_on"] = _("移送起诉日期不能早于破案日期。")
        if self.closed_on and self.filed_on and self.closed_on < self.filed_on:
            errors["closed_on"] = _("结案日期不能早于立案日期。")
        required = {
            CaseStatus.SOLVED: ("solved_on", _("状态为已破案时须填写破案日期。")),
            CaseStatus.TRANSFERRED: ("transferred_on", _("状态为已移送起诉时须填写移送起诉日期。")),
            CaseStatus.CLOSED: ("closed_on", _("状态为已结案时须填写结案日期。")),
        }
        if self.status in required:
            fname, msg = required[self.status]
            if not getattr(self, fname):
                errors[fname] = msg
        if self.status == CaseStatus.TRANSFERRED and self.kind == CaseKind.ADMINISTRATIVE:
            errors["status"] = _("行政案件不移送起诉。")
        if self.status == CaseStatus.FILED and self.solved_on:
            errors["status"] = _("已填写破案日期的案件状态不能为“已立案”。")
        if errors:
            raise ValidationError(errors)

    @property
    def is_target(self) -> bool:
        return bool(self.target_level)


class Suspect(VersionedModel):
    """A person suspected in one drug case, with their role and the date they were caught.

    The identity number is stored encrypted with a blind index (``id_number_digest``);
    a suspect already in the persons registry points at that person (``person``) instead
    of being registered twice. The same person in two cases is two suspects, one person.
    """

    case = models.ForeignKey(Case, verbose_name=_("案件"), on_delete=models.CASCADE, related_name="suspects")
    name = models.CharField(_("姓名"), max_length=50)
    id_number = IdentityNumberField(_("身份证号"), blank=True)
    id_number_digest = BlindIndexField(source="id_number")
    gender = models.CharField(_("性别"), max_length=8, choices=Gender.choices, blank=True, default=Gender.UNKNOWN)
    role = models.CharField(_("涉案角色"), max_length=16, choices=SuspectRole.choices, default=SuspectRole.PRINCIPAL)
    caught_on = models.DateField(_("抓获日期"), null=True, blank=True)
    person = models.ForeignKey(
        "persons.Person", verbose_name=_("在册人员"), null=True, blank=True, on_delete=models.SET_NULL,
        related_name="suspect_records", editable=False,
    )
    measure = models.CharField(_("强制措施"), max_length=50, blank=True)
    note = models.CharField(_("备注"), max_length=255, blank=True)
    is_demo = models.BooleanField(_("演示数据"), default=False, editable=False)

    history = HistoricalRecords()
    scope_division_path = "case__division"
    person_name_fields = ("name",)

    class Meta:
        verbose_name = _("犯罪嫌疑人")
        verbose_name_plural = _("犯罪嫌疑人")
        ordering = ["case", "id"]
        constraints = [
            models.UniqueConstraint(fields=["case", "id_number_digest"], name="enforcement_suspect_once_per_case"),
        ]
        indexes = [models.Index(fields=["caught_on"])]

    def __str__(self) -> str:
        return self.name


class Gang(VersionedModel):
    """A drug-trafficking gang or organisation (贩毒团伙), its members (suspects of one or
    more cases) and whether and when it was broken up (打掉)."""

    name = models.CharField(_("团伙名称"), max_length=200)
    division = models.ForeignKey(
        "geo.Division", verbose_name=_("活动区划"), on_delete=models.PROTECT, related_name="drug_gangs"
    )
    cases = models.ManyToManyField(Case, verbose_name=_("涉及案件"), blank=True, related_name="gangs")
    members = models.ManyToManyField(Suspect, verbose_name=_("成员"), blank=True, related_name="gangs")
    is_broken_up = models.BooleanField(_("已打掉"), default=False)
    broken_up_on = models.DateField(_("打掉日期"), null=True, blank=True)
    note = models.TextField(_("备注"), blank=True)
    is_demo = models.BooleanField(_("演示数据"), default=False, editable=False)

    history = HistoricalRecords()
    scope_division_path = "division"

    class Meta:
        verbose_name = _("贩毒团伙")
        verbose_name_plural = _("贩毒团伙")
        ordering = ["-broken_up_on", "name"]
        constraints = [models.UniqueConstraint(fields=["division", "name"], name="enforcement_gang_unique_name")]
        indexes = [models.Index(fields=["is_broken_up", "broken_up_on"])]

    def __str__(self) -> str:
        return self.name

    def clean(self):
        super().clean()
        if self.is_broken_up and not self.broken_up_on:
            raise ValidationError({"broken_up_on": _("已打掉的团伙须填写打掉日期。")})
        if self.broken_up_on and not self.is_broken_up:
            raise ValidationError({"is_broken_up": _("填写了打掉日期的团伙须勾选“已打掉”。")})


class Seizure(VersionedModel):
    """Drugs seized (缴获) in a case: which controlled substance, in what form, how much
    (gross and net grams as Decimal; tablets or plants counted), the purity when tested,
    where and when. ``suspect`` attributes the seizure to one suspect (for their total).

    ``substance`` is empty for items not on the control lists (a substance seized before
    it was listed is still recorded against its list entry; the quantity class then says
    "not a drug" for that date). Statistics sum ``net_weight_g``.
    """

    case = models.ForeignKey(Case, verbose_name=_("案件"), on_delete=models.CASCADE, related_name="seizures")
    suspect = models.ForeignKey(
        Suspect, verbose_name=_("犯罪嫌疑人"), null=True, blank=True, on_delete=models.SET_NULL, related_name="seizures"
    )
    substance = models.ForeignKey(
        "substances.Substance", verbose_name=_("毒品种类"), null=True, blank=True, on_delete=models.PROTECT,
        related_name="seizures",
    )
    item_name = models.CharField(_("物品名称"), max_length=100, blank=True,
                                 help_text=_("未列管物品或俗称（如“麻古”“神仙水”）。"))
    form = models.CharField(_("形态"), max_length=16, choices=SeizureForm.choices)
    gross_weight_g = models.DecimalField(_("毛重（克）"), max_digits=14, decimal_places=3, null=True, blank=True)
    net_weight_g = models.DecimalField(_("净重（克）"), max_digits=14, decimal_places=3, null=True, blank=True)
    tablet_count = models.PositiveIntegerField(_("片（件）数"), null=True, blank=True)
    plant_count = models.PositiveIntegerField(_("株数"), null=True, blank=True)
    purity_pct = models.DecimalField(_("纯度（%）"), max_digits=5, decimal_places=2, null=True, blank=True)
    place = models.CharField(_("缴获地点"), max_length=255, blank=True)
    seized_on = models.DateField(_("缴获日期"))
    is_demo = models.BooleanField(_("演示数据"), default=False, editable=False)

    history = HistoricalRecords()
    scope_division_path = "case__division"

    class Meta:
        verbose_name = _("毒品缴获")
        verbose_name_plural = _("毒品缴获")
        ordering = ["-seized_on", "-id"]
        indexes = [models.Index(fields=["seized_on"])]
        constraints = [
            models.CheckConstraint(condition=Q(net_weight_g__gte=0) | Q(net_weight_g__isnull=True),
                                   name="enforcement_seizure_net_nonneg"),
            models.CheckConstraint(condition=Q(gross_weight_g__gte=0) | Q(gross_weight_g__isnull=True),
                                   name="enforcement_seizure_gross_nonneg"),
            models.CheckConstraint(condition=Q(purity_pct__gte=0, purity_pct__lte=100) | Q(purity_pct__isnull=True),
                                   name="enforcement_seizure_purity_range"),
        ]

    def __str__(self) -> str:
        what = self.substance.name_zh if self.substance_id else self.item_name
        return f"{what} {self.net_weight_g or ''}"

    def clean(self):
        super().clean()
        errors: dict[str, str] = {}
        if not self.substance_id and not self.item_name:
            errors["substance"] = _("请选择毒品种类，或填写物品名称。")
        if self.net_weight_g is None and not self.tablet_count and not self.plant_count:
            errors["net_weight_g"] = _("请填写净重，或片数、株数。")
        if self.gross_weight_g is not None and self.net_weight_g is not None and self.net_weight_g > self.gross_weight_g:
            errors["net_weight_g"] = _("净重不能大于毛重。")
        if self.suspect_id and self.case_id and self.suspect.case_id != self.case_id:
            errors["suspect"] = _("犯罪嫌疑人不属于本案。")
        if errors:
            raise ValidationError(errors)


class ScreeningSession(VersionedModel):
    """A drug-driving screening session (毒驾检测) of key drivers — school bus, bus,
    freight… — run by a unit on one local date at one place; the drivers tested and
    their results are :class:`DriverTest` rows."""

    unit = models.ForeignKey("org.Unit", verbose_name=_("检测单位"), on_delete=models.PROTECT,
                             related_name="screening_sessions")
    division = models.ForeignKey("geo.Division", verbose_name=_("所属区划"), on_delete=models.PROTECT,
                                 related_name="screening_sessions")
    held_on = models.DateField(_("检测日期"))
    category = models.CharField(_("重点驾驶员类别"), max_length=16, choices=DriverCategory.choices)
    place = models.CharField(_("检测地点"), max_length=255, blank=True)
    employer = models.CharField(_("所属企业"), max_length=200, blank=True)
    campaigns = models.ManyToManyField(Campaign, verbose_name=_("专项行动"), blank=True,
                                       related_name="screening_sessions")
    note = models.TextField(_("备注"), blank=True)
    is_demo = models.BooleanField(_("演示数据"), default=False, editable=False)

    history = HistoricalRecords()
    scope_division_path = "division"

    class Meta:
        verbose_name = _("毒驾检测")
        verbose_name_plural = _("毒驾检测")
        ordering = ["-held_on", "-id"]

    def __str__(self) -> str:
        return f"{self.held_on} {self.get_category_display()}"


class DriverTest(VersionedModel):
    """One driver tested in a screening session and the result. A positive result is
    linked to the persons registry (``person``, an existing or newly registered
    person) so the licence can be followed up; the identity number is kept encrypted."""

    session = models.ForeignKey(ScreeningSession, verbose_name=_("检测场次"), on_delete=models.CASCADE,
                                related_name="tests")
    name = models.CharField(_("姓名"), max_length=50)
    id_number = IdentityNumberField(_("身份证号"), blank=True)
    id_number_digest = BlindIndexField(source="id_number")
    licence_number = models.CharField(_("驾驶证号/车牌"), max_length=50, blank=True)
    result = models.CharField(_("检测结果"), max_length=16, choices=ScreeningResult.choices)
    substance = models.ForeignKey("substances.Substance", verbose_name=_("检出物质"), null=True, blank=True,
                                  on_delete=models.PROTECT, related_name="+")
    follow_up = models.CharField(_("处置情况"), max_length=255, blank=True)
    person = models.ForeignKey(
        "persons.Person", verbose_name=_("在册人员"), null=True, blank=True, on_delete=models.SET_NULL,
        related_name="driver_tests", editable=False,
    )
    is_demo = models.BooleanField(_("演示数据"), default=False, editable=False)

    history = HistoricalRecords()
    scope_division_path = "session__division"
    person_name_fields = ("name",)

    class Meta:
        verbose_name = _("驾驶员检测结果")
        verbose_name_plural = _("驾驶员检测结果")
        ordering = ["session", "id"]
        constraints = [
            models.UniqueConstraint(fields=["session", "id_number_digest"], name="enforcement_drivertest_once"),
        ]

    def __str__(self) -> str:
        return f"{self.name} {self.get_result_display()}"

    def clean(self):
        super().clean()
        if self.result == ScreeningResult.POSITIVE and not self.id_number:
            raise ValidationError({"id_number": _("检测结果为阳性时须填写身份证号，以便登记和后续处置。")})
