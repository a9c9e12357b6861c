"""Organisation: units, their membership of the commission by year, and pairing with towns."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from jindu.core.fields import PhoneNumberField
from jindu.core.models import VersionedModel
from jindu.geo.choices import Level
from jindu.geo.models import Division
from jindu.org.choices import CommissionRole, UnitKind


class Unit(VersionedModel):
    """An organisation taking part in drug control: the NCC office, a member or non-member
    unit, a district or town office, a department, a police unit, a school, a development zone.

    ``division`` is where the unit sits and decides who may see it; ``jurisdiction`` lists
    the divisions it serves (a development zone serves several towns; a police station its
    towns). ``is_demo`` marks rows created by ``seed_demo``.
    """

    name = models.CharField(_("单位名称"), max_length=200)
    short_name = models.CharField(_("简称"), max_length=50, blank=True)
    kind = models.CharField(_("单位类型"), max_length=32, choices=UnitKind.choices)
    division = models.ForeignKey(Division, verbose_name=_("所属区划"), on_delete=models.PROTECT, related_name="units")
    jurisdiction = models.ManyToManyField(Division, verbose_name=_("服务区域"), blank=True, related_name="served_by")
    parent = models.ForeignKey(
        "self", verbose_name=_("上级单位"), null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    head_name = models.CharField(_("负责人"), max_length=50, blank=True)
    head_title = models.CharField(_("负责人职务"), max_length=50, blank=True)
    phone = PhoneNumberField(_("联系电话"), blank=True)
    address = models.CharField(_("地址"), max_length=255, blank=True)
    is_active = models.BooleanField(_("有效"), default=True)
    is_demo = models.BooleanField(_("演示数据"), default=False, editable=False)

    history = HistoricalRecords()
    scope_division_path = "division"
    scope_assigned_only_sees_jurisdiction = True
    person_name_fields = ("head_name",)

    class Meta:
        verbose_name = _("单位")
        verbose_name_plural = _("单位")
        ordering = ["division__code", "kind", "name"]
        constraints = [models.UniqueConstraint(fields=["division", "name"], name="org_unit_unique_name_in_division")]

    def __str__(self) -> str:
        return self.name


class CommissionMembership(VersionedModel):
    """A unit's membership of the Narcotics Control Commission in one year (成员单位名单)."""

    unit = models.ForeignKey(Unit, verbose_name=_("单位"), on_delete=models.CASCADE, related_name="memberships")
    year = models.PositiveSmallIntegerField(_("年度"))
    role = models.CharField(_("职责"), max_length=16, choices=CommissionRole.choices, default=CommissionRole.MEMBER)

    history = HistoricalRecords()
    scope_division_path = "unit__division"
    scope_assigned_only_sees_jurisdiction = True

    class Meta:
        verbose_name = _("禁毒委成员")
        verbose_name_plural = _("禁毒委成员")
        ordering = ["-year", "unit__name"]
        constraints = [models.UniqueConstraint(fields=["unit", "year"], name="org_membership_unique_unit_year")]

    def __str__(self) -> str:
        return f"{self.year} {self.unit}"


class Pairing(VersionedModel):
    """Pairing (挂点帮扶): a unit paired with a town for a year; the town's assessment
    results are linked to the paired unit's ("责任捆绑、结果倒查")."""

    unit = models.ForeignKey(Unit, verbose_name=_("挂点单位"), on_delete=models.PROTECT, related_name="pairings")
    town = models.ForeignKey(Division, verbose_name=_("挂点镇街"), on_delete=models.PROTECT, related_name="pairings")
    year = models.PositiveSmallIntegerField(_("年度"))
    note = models.CharField(_("备注"), max_length=255, blank=True)

    history = HistoricalRecords()
    scope_division_path = "town"
    scope_assigned_only_sees_jurisdiction = True

    class Meta:
        verbose_name = _("挂点帮扶")
        verbose_name_plural = _("挂点帮扶")
        ordering = ["-year", "town__code"]
        constraints = [models.UniqueConstraint(fields=["unit", "town", "year"], name="org_pairing_unique")]

    def __str__(self) -> str:
        return f"{self.year} {self.unit} → {self.town}"

    def clean(self):
        if self.town_id and self.town.level != Level.TOWN:
            raise ValidationError({"town": _("挂点对象必须是镇街。")})
