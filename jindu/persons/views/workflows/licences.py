"""Driving licences to cancel (公安部令第162号 art. 79(6)): the list, its export for the traffic
police, and recording a cancellation."""

from __future__ import annotations

from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from jindu.core.exports import CODE, DATE, IDENTITY, ExportColumn, Exporter
from jindu.core.scope import CHANGE
from jindu.core.timeutils import local_today
from jindu.core.views.actions import RecordActionView, run_service
from jindu.core.views.imports import ExportView
from jindu.persons import services, workflows
from jindu.persons.forms_workflows import LicenceCancelForm
from jindu.persons.models import Person
from jindu.persons.views.workflows.base import WorkflowPage, changeable_ids, log_people, page_of


def _place(village) -> str:
    return f"{village.parent.name if village.parent_id else ''}{village.name}"


class LicenceExporter(Exporter):
    """People whose driving licence falls under 公安部令第162号 art. 79(6), for the traffic police."""

    name = "persons.licence_cancellation"
    label = gettext_lazy("应注销驾驶证人员")
    model = Person
    personal_data = True
    select_related = ("residence_division", "residence_division__parent")
    columns = [
        ExportColumn(gettext_lazy("姓名"), "name"),
        ExportColumn(gettext_lazy("证件号码"), "identity_number", kind=IDENTITY),
        ExportColumn(gettext_lazy("性别"), "get_sex_display"),
        ExportColumn(gettext_lazy("出生日期"), "birth_date", kind=DATE),
        ExportColumn(gettext_lazy("准驾车型"), "driving_licence_classes"),
        ExportColumn(gettext_lazy("注销情形（公安部令第162号第七十九条第一款第六项）"),
                     lambda p: workflows.ground_label(p.ground_kind)),
        ExportColumn(gettext_lazy("决定（责令）日期"), "ground_on", kind=DATE),
        ExportColumn(gettext_lazy("管控状态"), "get_status_display"),
        ExportColumn(gettext_lazy("居住地"), lambda p: _place(p.residence_division)),
        ExportColumn(gettext_lazy("居住地区划代码"), "residence_division.code", kind=CODE),
    ]

    def get_queryset(self, user, params=None):
        return workflows.licences_to_cancel(user)


class LicenceListView(WorkflowPage):
    template_name = "persons/workflow_licence_list.html"
    section = "licences"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        request, user = self.request, self.request.user
        cancelled = request.GET.get("tab") == "cancelled"
        rows = workflows.licences_cancelled(user) if cancelled else workflows.licences_to_cancel(user)
        page = page_of(request, rows)
        for p in page.object_list:
            p.ground = workflows.ground_label(getattr(p, "ground_kind", None))
        log_people(request, page.object_list)
        ctx.update(page=page, cancelled=cancelled, changeable=changeable_ids(user, page.object_list),
                   today=local_today())
        return ctx


class LicenceExportView(ExportView):
    exporter = LicenceExporter


class LicenceCancelView(RecordActionView):
    model = Person
    action = CHANGE
    form_class = LicenceCancelForm

    def act(self, person, d):
        return run_service(self.request, lambda: services.record_licence_cancellation(
            user=self.request.user, person=person, cancelled_on=d["cancelled_on"], expected_version=d["version"],
            document_number=d["document_number"]), _("已记录驾驶证注销。"))

    def back_url(self, person, result=None):
        return reverse("persons:licence_list")
