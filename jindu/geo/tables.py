import django_tables2 as tables
from django.utils.translation import gettext_lazy as _

from jindu.core.templatetags.jindu import division_kind


class ChildDivisionTable(tables.Table):
    name = tables.Column(verbose_name=_("名称"), linkify=("geo:division_detail", {"pk": tables.A("pk")}))
    code = tables.Column(verbose_name=_("区划代码"), attrs={"td": {"class": "code"}})
    kind = tables.Column(verbose_name=_("类型"), accessor="pk", orderable=False)
    child_count = tables.Column(verbose_name=_("下级数"), attrs={"td": {"class": "text-end"}, "th": {"class": "text-end"}})
    village_count = tables.Column(verbose_name=_("村居数"), attrs={"td": {"class": "text-end"}, "th": {"class": "text-end"}})

    class Meta:
        orderable = False
        attrs = {"class": "table table-sm table-hover align-middle mb-0"}

    def render_kind(self, record):
        return division_kind(record)
