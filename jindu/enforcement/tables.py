import django_tables2 as tables
from django.utils.translation import gettext_lazy as _

from jindu.enforcement.models import Campaign, Case, Gang, ScreeningSession

_ATTRS = {"class": "table table-sm table-hover align-middle"}
_NOWRAP = {"td": {"class": "text-nowrap"}}


class CaseTable(tables.Table):
    number = tables.Column(verbose_name=_("案件编号"), linkify=("enforcement:case_detail", {"pk": tables.A("pk")}),
                           attrs=_NOWRAP)
    name = tables.Column(verbose_name=_("案件名称"))
    kind = tables.Column(verbose_name=_("类别"), attrs=_NOWRAP)
    offence = tables.Column(verbose_name=_("案由"), orderable=False)
    division = tables.Column(verbose_name=_("发案区划"), accessor="division__name", order_by=("division__code",))
    handling_unit = tables.Column(verbose_name=_("办案单位"), accessor="handling_unit__name", orderable=False)
    filed_on = tables.DateColumn(verbose_name=_("立案日期"), format="Y-m-d", attrs=_NOWRAP)
    solved_on = tables.DateColumn(verbose_name=_("破案日期"), format="Y-m-d", attrs=_NOWRAP)
    status = tables.Column(verbose_name=_("状态"), attrs=_NOWRAP)
    target_level = tables.Column(verbose_name=_("目标案件"), orderable=False, attrs=_NOWRAP)

    class Meta:
        model = Case
        fields = ("number", "name", "kind", "offence", "division", "handling_unit", "filed_on", "solved_on",
                  "status", "target_level")
        attrs = {**_ATTRS, "data-testid": "case-table"}
        empty_text = _("没有符合条件的案件。")

    def render_target_level(self, record):
        return record.get_target_level_display() if record.target_level else "—"


class GangTable(tables.Table):
    name = tables.Column(verbose_name=_("团伙名称"), linkify=("enforcement:gang_detail", {"pk": tables.A("pk")}))
    division = tables.Column(verbose_name=_("活动区划"), accessor="division__name", order_by=("division__code",))
    member_count = tables.Column(verbose_name=_("成员数"), orderable=False)
    is_broken_up = tables.BooleanColumn(verbose_name=_("已打掉"))
    broken_up_on = tables.DateColumn(verbose_name=_("打掉日期"), format="Y-m-d")

    class Meta:
        model = Gang
        fields = ("name", "division", "member_count", "is_broken_up", "broken_up_on")
        attrs = {**_ATTRS, "data-testid": "gang-table"}
        empty_text = _("没有符合条件的团伙。")


class CampaignTable(tables.Table):
    name = tables.Column(verbose_name=_("行动名称"), linkify=("enforcement:campaign_detail", {"pk": tables.A("pk")}))
    kind = tables.Column(verbose_name=_("类型"))
    level = tables.Column(verbose_name=_("发起层级"))
    division = tables.Column(verbose_name=_("适用区划"), accessor="division__name", orderable=False)
    start_date = tables.DateColumn(verbose_name=_("开始日期"), format="Y-m-d")
    end_date = tables.DateColumn(verbose_name=_("结束日期"), format="Y-m-d")

    class Meta:
        model = Campaign
        fields = ("name", "kind", "level", "division", "start_date", "end_date")
        attrs = {**_ATTRS, "data-testid": "campaign-table"}
        empty_text = _("没有专项行动。")


class ScreeningTable(tables.Table):
    held_on = tables.DateColumn(verbose_name=_("检测日期"), format="Y-m-d",
                                linkify=("enforcement:screening_detail", {"pk": tables.A("pk")}))
    category = tables.Column(verbose_name=_("重点驾驶员类别"))
    unit = tables.Column(verbose_name=_("检测单位"), accessor="unit__name", orderable=False)
    division = tables.Column(verbose_name=_("所属区划"), accessor="division__name", orderable=False)
    employer = tables.Column(verbose_name=_("所属企业"), orderable=False)
    tested = tables.Column(verbose_name=_("检测人数"), orderable=False)
    positive = tables.Column(verbose_name=_("阳性人数"), orderable=False)

    class Meta:
        model = ScreeningSession
        fields = ("held_on", "category", "unit", "division", "employer", "tested", "positive")
        attrs = {**_ATTRS, "data-testid": "screening-table"}
        empty_text = _("没有毒驾检测记录。")
