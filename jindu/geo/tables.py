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


class PopulationTable(tables.Table):
    division = tables.Column(verbose_name=_("区划"), accessor="division__name", order_by=("division__code",),
                             attrs={"td": {"class": "text-nowrap"}})
    code = tables.Column(verbose_name=_("区划代码"), accessor="division__code", attrs={"td": {"class": "code"}})
    level = tables.Column(verbose_name=_("层级"), accessor="division__level", orderable=False,
                          attrs={"td": {"class": "text-nowrap"}, "th": {"class": "text-nowrap"}})
    year = tables.Column(verbose_name=_("年度"))
    kind = tables.Column(verbose_name=_("口径"), attrs={"td": {"class": "text-nowrap"}})
    population = tables.Column(verbose_name=_("人口数（人）"),
                               attrs={"td": {"class": "text-end text-nowrap"}, "th": {"class": "text-end text-nowrap"}})
    source_doc = tables.Column(verbose_name=_("来源文件"), orderable=False, attrs={"td": {"class": "small"}})
    edit = tables.TemplateColumn(
        verbose_name="", orderable=False, attrs={"td": {"class": "text-nowrap"}},
        template_code='{% load i18n %}{% if record.pk in changeable_ids %}<a class="btn btn-outline-secondary btn-sm" '
                      'href="{% url \'geo:population_edit\' record.pk %}">{% translate "编辑" %}</a>{% endif %}',
    )

    class Meta:
        attrs = {"class": "table table-sm table-hover align-middle mb-0", "data-testid": "population-table"}
        empty_text = _("没有符合条件的人口数据。")

    def render_level(self, record):
        return record.division.get_level_display()

    def render_population(self, value):
        return f"{value:,}"

    def render_source_doc(self, record):
        from django.utils.html import format_html

        ref = record.source_ref
        return format_html('<span title="{}">{}</span>', ref, record.source_doc) if ref else record.source_doc
