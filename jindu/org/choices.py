from django.db import models
from django.utils.translation import gettext_lazy as _


class UnitKind(models.TextChoices):
    COMMISSION_OFFICE = "commission_office", _("禁毒办")
    MEMBER_UNIT = "member_unit", _("禁毒委成员单位")
    NON_MEMBER_UNIT = "non_member_unit", _("非成员单位")
    DISTRICT = "district", _("区")
    DEVELOPMENT_ZONE = "development_zone", _("开发区")
    TOWN = "town", _("镇街")
    DEPARTMENT = "department", _("职能部门")
    POLICE = "police", _("公安机关")
    SCHOOL = "school", _("学校")
    OTHER = "other", _("其他")


class CommissionRole(models.TextChoices):
    DIRECTOR = "director", _("主任单位")
    DEPUTY = "deputy", _("副主任单位")
    MEMBER = "member", _("成员单位")
