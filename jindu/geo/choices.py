from django.db import models
from django.utils.translation import gettext_lazy as _


class Level(models.TextChoices):
    """Tiers of the statistical division tree, plus grids defined locally under villages."""

    PROVINCE = "province", _("省")
    CITY = "city", _("市")
    DISTRICT = "district", _("区县")
    TOWN = "town", _("镇街")
    VILLAGE = "village", _("村居")
    GRID = "grid", _("网格")


class TownKind(models.TextChoices):
    """NBS town-level unit kinds, decided by the 3-digit town code (NBS 统计用区划代码编制规则).

    001–099 sub-district (街道), 100–199 town (镇), 200–399 township (乡),
    400–599 town-like unit (类似乡级单位: development zones, farms).
    """

    SUBDISTRICT = "subdistrict", _("街道")
    TOWN = "town", _("镇")
    TOWNSHIP = "township", _("乡")
    TOWN_LIKE = "town_like", _("类似乡级单位")

    @classmethod
    def from_code(cls, town_code: str) -> "TownKind":
        n = int(town_code[-3:])
        if n < 100:
            return cls.SUBDISTRICT
        if n < 200:
            return cls.TOWN
        if n < 400:
            return cls.TOWNSHIP
        return cls.TOWN_LIKE
