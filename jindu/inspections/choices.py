from django.db import models
from django.utils.translation import gettext_lazy as _


class TargetKind(models.TextChoices):
    """What is inspected. Venues and delivery outlets are registered here; precursor
    enterprises are registered by the precursors app through
    :func:`jindu.inspections.services.register_external_target`."""

    KTV = "ktv", _("KTV")
    BAR = "bar", _("酒吧")
    CHESS_ROOM = "chess_room", _("棋牌室")
    HOTEL = "hotel", _("宾馆酒店")
    OTHER_VENUE = "other_venue", _("其他易涉毒场所")
    EXPRESS_OUTLET = "express_outlet", _("快递网点")
    LOGISTICS_OUTLET = "logistics_outlet", _("物流网点")
    PRECURSOR_ENTERPRISE = "precursor_enterprise", _("易制毒化学品企业")


class TargetCategory(models.TextChoices):
    """The group a kind belongs to; a checklist template applies to one category."""

    VENUE = "venue", _("娱乐及易涉毒场所")
    DELIVERY = "delivery", _("寄递物流网点")
    ENTERPRISE = "enterprise", _("易制毒化学品企业")


KIND_CATEGORY: dict[str, str] = {
    TargetKind.KTV: TargetCategory.VENUE,
    TargetKind.BAR: TargetCategory.VENUE,
    TargetKind.CHESS_ROOM: TargetCategory.VENUE,
    TargetKind.HOTEL: TargetCategory.VENUE,
    TargetKind.OTHER_VENUE: TargetCategory.VENUE,
    TargetKind.EXPRESS_OUTLET: TargetCategory.DELIVERY,
    TargetKind.LOGISTICS_OUTLET: TargetCategory.DELIVERY,
    TargetKind.PRECURSOR_ENTERPRISE: TargetCategory.ENTERPRISE,
}


def kinds_of(category: str) -> list[str]:
    """The target kinds of a :class:`TargetCategory` value."""
    return [k for k, c in KIND_CATEGORY.items() if c == category]


class TargetStatus(models.TextChoices):
    OPERATING = "operating", _("正常经营")
    SUSPENDED = "suspended", _("停业整顿")
    CLOSED = "closed", _("已关停")


class ItemOutcome(models.TextChoices):
    PASS = "pass", _("合格")
    FAIL = "fail", _("不合格")
    NOT_APPLICABLE = "na", _("不适用")


class HazardStatus(models.TextChoices):
    """Open → rectified (the target reports it fixed) → verified (a re-inspection
    confirmed it) → closed (the office closes the file). A re-inspection that finds the
    fix wanting sends a rectified hazard back to open."""

    OPEN = "open", _("待整改")
    RECTIFIED = "rectified", _("已整改")
    VERIFIED = "verified", _("已复查")
    CLOSED = "closed", _("已销号")


class Colour(models.TextChoices):
    """The four-colour status of a target in a period (see :mod:`jindu.inspections.rules`)."""

    RED = "red", _("红色（不合格）")
    YELLOW = "yellow", _("黄色（本期未检查）")
    BLUE = "blue", _("蓝色（已整改）")
    GREEN = "green", _("绿色（合格）")
