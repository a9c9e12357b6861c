"""Administrative divisions: province › city › district › town › village, and local grids."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from jindu.core.models import NormalizedTextModel
from jindu.core.scope import ScopedManager
from jindu.geo.choices import Level, TownKind


class Division(NormalizedTextModel):
    """One administrative division (or a grid, 网格, defined under a village).

    ``code`` is the 12-digit statistical code (NBS 统计用区划代码, 2023 vintage) for
    statistical divisions; grids get ``<village code>-<nn>``. ``path`` is the chain of
    short codes from the province down (``"46/4601/460107/460107001/"``); a subtree is every
    division whose path starts with its root's path. Jurisdiction everywhere in Jindu is
    a subtree of this table.
    """

    code = models.CharField(_("区划代码"), max_length=32, unique=True)
    name = models.CharField(_("名称"), max_length=100)
    level = models.CharField(_("层级"), max_length=16, choices=Level.choices)
    town_kind = models.CharField(_("镇街类型"), max_length=16, choices=TownKind.choices, blank=True)
    parent = models.ForeignKey(
        "self", verbose_name=_("上级"), null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    path = models.CharField(_("路径"), max_length=255, unique=True, editable=False)
    depth = models.PositiveSmallIntegerField(editable=False)
    is_active = models.BooleanField(_("有效"), default=True)
    source = models.CharField(_("来源"), max_length=255, blank=True)

    history = HistoricalRecords()
    objects = ScopedManager()

    # The division tree scopes itself: a grant sees its own subtree.
    scope_division_path = ""
    scope_assigned_only_sees_jurisdiction = True

    class Meta:
        verbose_name = _("行政区划")
        verbose_name_plural = _("行政区划")
        ordering = ["code"]
        indexes = [
            models.Index(fields=["parent", "code"]),
            models.Index(fields=["path"], name="geo_division_path_like", opclasses=["varchar_pattern_ops"]),
        ]
        constraints = [
            # Grids are named by people, so two grids of one village must not share a name;
            # statistical divisions keep the names NBS gives them.
            models.UniqueConstraint(
                fields=["parent", "name"], condition=Q(level=Level.GRID), name="geo_grid_unique_name_in_village"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def short_code(self) -> str:
        """The code as long as its level needs: 2/4/6/9/12 digits, or the grid code."""
        return self.path.rstrip("/").rsplit("/", 1)[-1]

    def compute_path(self) -> str:
        short = short_code_for(self.code, self.level)
        return (self.parent.path if self.parent_id else "") + short + "/"

    def save(self, *args, **kwargs):
        self.path = self.compute_path()
        self.depth = self.path.count("/")
        super().save(*args, **kwargs)


_SHORT_LEN = {Level.PROVINCE: 2, Level.CITY: 4, Level.DISTRICT: 6, Level.TOWN: 9, Level.VILLAGE: 12}


def short_code_for(code: str, level: str) -> str:
    """The significant prefix of a 12-digit code for its level (``460107001000`` → ``460107001``)."""
    n = _SHORT_LEN.get(level)
    return code[:n] if n else code



class Population(models.Model):
    """A published population figure of a division for one year (the denominator of "share
    of current drug users in the population" and other per-capita indicators).

    ``kind``: census resident (普查常住人口), year-end resident (年末常住人口), registered
    (户籍人口). Every figure keeps its source; administrators add figures the shipped file
    lacks (towns: not published outside the NBS township tabulation).
    """

    class Kind(models.TextChoices):
        CENSUS_RESIDENT = "census resident", _("普查常住人口")
        YEAR_END_RESIDENT = "year-end resident", _("年末常住人口")
        REGISTERED = "registered", _("户籍人口")

    division = models.ForeignKey(Division, verbose_name=_("区划"), on_delete=models.CASCADE, related_name="populations")
    year = models.PositiveSmallIntegerField(_("年度"))
    kind = models.CharField(_("口径"), max_length=20, choices=Kind.choices)
    population = models.PositiveIntegerField(_("人口数"))
    source_doc = models.TextField(_("来源文件"))
    source_ref = models.TextField(_("出处"), blank=True)
    confidence = models.CharField(_("可信度"), max_length=20, blank=True)

    history = HistoricalRecords()
    objects = ScopedManager()
    scope_division_path = "division"
    scope_assigned_only_sees_jurisdiction = True

    class Meta:
        verbose_name = _("人口数据")
        verbose_name_plural = _("人口数据")
        ordering = ["division__code", "-year", "kind"]
        constraints = [models.UniqueConstraint(fields=["division", "year", "kind"], name="geo_population_unique")]

    def __str__(self) -> str:
        return f"{self.division} {self.year} {self.population}"
