"""Enumerations of the precursors app. Legal bases: 《易制毒化学品管理条例》(国务院令第445号,
2018 revision), cited per value where one applies."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class ChemicalCategory(models.IntegerChoices):
    """The three categories of the Regulation's annex (附表 易制毒化学品的分类和品种目录)."""

    ONE = 1, _("第一类")
    TWO = 2, _("第二类")
    THREE = 3, _("第三类")


class EnterpriseKind(models.TextChoices):
    """What an enterprise does with precursor chemicals (Regulation chapters 2–4)."""

    PRODUCER = "producer", _("生产企业")
    TRADER = "trader", _("经营企业")
    USER = "user", _("使用单位")
    TRANSPORTER = "transporter", _("运输企业")
    STORAGE = "storage", _("仓储企业")


class EnterpriseStatus(models.TextChoices):
    OPERATING = "operating", _("正常经营")
    SUSPENDED = "suspended", _("停产停业")
    CLOSED = "closed", _("已注销")


class RiskLevel(models.TextChoices):
    HIGH = "high", _("高风险")
    MEDIUM = "medium", _("中风险")
    LOW = "low", _("低风险")


class LicenceKind(models.TextChoices):
    """Licences, filing certificates and permits (Regulation arts. 7–10, 13–17, 20–22).
    ``LICENCE_KIND_RULES`` in :mod:`jindu.precursors.rules` says which categories and
    activities each kind covers."""

    PRODUCTION_LICENCE = "production_licence", _("生产许可证")
    TRADE_LICENCE = "trade_licence", _("经营许可证")
    PRODUCTION_FILING = "production_filing", _("生产备案证明")
    TRADE_FILING = "trade_filing", _("经营备案证明")
    PURCHASE_LICENCE = "purchase_licence", _("购买许可证")
    PURCHASE_FILING = "purchase_filing", _("购买备案证明")
    TRANSPORT_LICENCE = "transport_licence", _("运输许可证")
    TRANSPORT_FILING = "transport_filing", _("运输备案证明")


class LicenceStatus(models.TextChoices):
    VALID = "valid", _("有效")
    REVOKED = "revoked", _("已吊销/注销")


class Direction(models.TextChoices):
    """A stock-ledger movement. ``IN`` adds to the balance, every other direction takes away."""

    IN = "in", _("入库")
    OUT = "out", _("出库")
    USED = "used", _("使用消耗")
    DESTROYED = "destroyed", _("销毁")
    LOSS = "loss", _("损耗/丢失")


OUTBOUND_DIRECTIONS = (Direction.OUT, Direction.USED, Direction.DESTROYED, Direction.LOSS)


class QuantityUnit(models.TextChoices):
    """Units a quantity may be entered in; stored as kilograms (``quantity_kg``)."""

    KG = "kg", _("千克")
    G = "g", _("克")
    T = "t", _("吨")
    L = "L", _("升")
    ML = "mL", _("毫升")
    PIECE = "piece", _("件/瓶")


class EntrySource(models.TextChoices):
    MANUAL = "manual", _("页面录入")
    IMPORT = "import", _("导入")
    API = "api", _("接口")
    DEMO = "demo", _("演示数据")


class DiscrepancySeverity(models.TextChoices):
    VIOLATION = "violation", _("疑似违规")
    REVIEW = "review", _("异常待核")


class DiscrepancyStatus(models.TextChoices):
    OPEN = "open", _("待处理")
    IN_PROGRESS = "in_progress", _("核查中")
    CLOSED = "closed", _("已办结")


class Resolution(models.TextChoices):
    EXPLAINED = "explained", _("已说明合理")
    CORRECTED = "corrected", _("已更正台账")
    RECTIFIED = "rectified", _("已责令整改")
    REFERRED = "referred", _("已移交立案")
