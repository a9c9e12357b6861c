"""Workforce pages: staffing (table, chart, Excel), teams, workers and their employment,
meetings, a town's caseloads (unassigned list, assignment, balance), appraisal and renewal.

Reads go through :mod:`jindu.workforce.selectors` (scoped); writes through
:mod:`jindu.workforce.services`. Out of scope is 404, no permission 403.
"""

from __future__ import annotations

import io

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404, HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, gettext_noop
from django.views import View
from django.views.generic import CreateView, DetailView, ListView, TemplateView, UpdateView

from jindu.core.audit import log_access
from jindu.core.exports import CODE, NUMBER, ExportColumn, write_xlsx
from jindu.core.models import AccessLog
from jindu.core.scope import ADD, CHANGE, VIEW, has_model_permission, holds_permission_at
from jindu.core.views.actions import RecordActionView, error_text, form_error_text, run_service
from jindu.core.views.mixins import (
    AccessLogMixin, ScopedObjectMixin, ScopedPermissionMixin, ScopedQuerysetMixin, VersionedEditMixin,
)
from jindu.geo.choices import Level
from jindu.geo.models import Division
from jindu.workforce import forms, selectors, services
from jindu.workforce.balance import Move
from jindu.workforce.choices import IN_POST_STATUSES, RenewalDecision, TeamKind, WorkerStatus
from jindu.workforce.conf import workforce_settings
from jindu.workforce.models import Appraisal, Meeting, Team, Worker

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class _FormPage(VersionedEditMixin):
    """A form page (``workforce/form.html`` with ``title`` and ``tab``) that saves through a
    service in ``save(form)``: a ``ValidationError`` becomes one non-field error, stale and
    out-of-scope saves are refused by :class:`VersionedEditMixin`; a save goes to the
    record's page (``detail_url_name``)."""

    template_name = "workforce/form.html"
    title = ""
    tab = ""
    detail_url_name = ""

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "user": self.request.user}

    def form_valid(self, form):
        try:
            return super().form_valid(form)
        except ValidationError as exc:
            form.add_error(None, error_text(exc))
            return self.form_invalid(form)

    def get_success_url(self):
        return reverse(self.detail_url_name, args=[self.object.pk])

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), "title": str(self.title), "tab": self.tab}


# -- staffing -----------------------------------------------------------------------------


class StaffingView(ScopedPermissionMixin, TemplateView):
    """Staffing need against workers in post, per town and district (see
    :mod:`jindu.workforce.staffing` for the rule and the rounding)."""

    model = Team
    template_name = "workforce/staffing.html"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        rows = selectors.staffing_table(self.request.user)
        conf = workforce_settings()
        towns = [t for d in rows for t in d.towns]
        ctx.update(rows=rows, chart=selectors.chart_data(rows), conf=conf, tab="staffing",
                   registry_hidden=any(not getattr(t, "registry_visible", True) for t in towns),
                   total_need=sum(t.need for t in towns), total_in_post=sum(d.in_post for d in rows))
        return ctx


STAFFING_COLUMNS = [
    ExportColumn(_("区划代码"), lambda r: r["code"], kind=CODE),
    ExportColumn(_("区划"), lambda r: r["name"]),
    ExportColumn(_("层级"), lambda r: r["level"]),
    ExportColumn(_("现有吸毒人员"), lambda r: r["current"], kind=NUMBER),
    ExportColumn(_("戒断三年未复吸人员"), lambda r: r["abstinent"], kind=NUMBER),
    ExportColumn(_("测算工作量（人）"), lambda r: r["load"], kind=NUMBER),
    ExportColumn(_("应配社工"), lambda r: r["need"], kind=NUMBER),
    ExportColumn(_("在岗社工"), lambda r: r["in_post"], kind=NUMBER),
    ExportColumn(_("缺口（正数为缺员，负数为超配）"), lambda r: r["gap"], kind=NUMBER, width=30),
]


class StaffingExportView(ScopedPermissionMixin, View):
    """The staffing table as xlsx (what the page shows, same scope)."""

    model = Team

    def get(self, request):
        rows = selectors.staffing_table(request.user)
        flat = []
        for d in rows:
            for r in [d, *d.towns]:
                flat.append({"code": r.division.code, "name": r.division.name, "level": r.division.get_level_display(),
                             "current": r.current_users, "abstinent": r.abstinent, "load": r.load_display,
                             "need": r.need, "in_post": r.in_post, "gap": r.gap})
        fh = io.BytesIO()
        values = ([c.get(r) for c in STAFFING_COLUMNS] for r in flat)
        write_xlsx(STAFFING_COLUMNS, values, fh, sheet_title=_("社工配备测算"))
        fh.seek(0)
        stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
        return FileResponse(fh, content_type=XLSX_TYPE, as_attachment=True,
                            filename=f"{_('社工配备测算')}-{stamp}.xlsx")


# -- teams --------------------------------------------------------------------------------


class TeamListView(ScopedQuerysetMixin, ListView):
    model = Team
    template_name = "workforce/team_list.html"
    context_object_name = "teams"
    paginate_by = 100

    def get_base_queryset(self):
        return Team.objects.select_related("division", "parent", "leader").order_by("division__path", "kind", "name")

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        teams = list(ctx["teams"])
        counts = {}
        for row in (selectors.workers_for(self.request.user).filter(status__in=IN_POST_STATUSES, team__in=teams)
                    .values_list("team_id", flat=True)):
            counts[row] = counts.get(row, 0) + 1
        ctx.update(rows=[(t, counts.get(t.pk, 0)) for t in teams], tab="teams",
                   can_add=has_model_permission(self.request.user, Team, ADD))
        return ctx


class TeamDetailView(ScopedObjectMixin, AccessLogMixin, DetailView):
    model = Team
    template_name = "workforce/team_detail.html"
    context_object_name = "team"
    access_log_kind = AccessLog.Kind.VIEW

    def get_base_queryset(self):
        return Team.objects.select_related("division", "parent", "leader")

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        user, team = self.request.user, self.object
        workers = list(selectors.workers_for(user).filter(team=team).order_by("-status", "name"))
        loads = selectors.caseload_counts(user, [w.user_id for w in workers])
        self.log_access(workers)
        ctx.update(
            tab="teams", workers=[(w, loads.get(w.user_id)) for w in workers],
            children=selectors.teams_for(user).filter(parent=team).order_by("division__code"),
            meetings=selectors.meetings_for(user).filter(team=team).prefetch_related("attendees")[:10],
            can_change=Team.objects.restrict(user, CHANGE).filter(pk=team.pk).exists(),
            caseload_town=team.division if team.kind == TeamKind.SQUADRON else None,
        )
        return ctx


class TeamCreateView(ScopedPermissionMixin, _FormPage, CreateView):
    model = Team
    action = ADD
    form_class = forms.TeamForm
    title = gettext_lazy("新增队伍")
    tab = "teams"
    detail_url_name = "workforce:team_detail"

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "action": ADD}

    def save(self, form):
        data = {f: form.cleaned_data.get(f) for f in services.TEAM_FIELDS if f in form.fields}
        return services.create_team(user=self.request.user, data=data)


class TeamUpdateView(ScopedObjectMixin, _FormPage, UpdateView):
    model = Team
    action = CHANGE
    form_class = forms.TeamForm
    title = gettext_lazy("编辑队伍")
    tab = "teams"
    detail_url_name = "workforce:team_detail"

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "action": CHANGE}

    def save(self, form):
        team, _changed = services.update_team(
            user=self.request.user, team=self.object, expected_version=form.cleaned_data["version"],
            data={f: form.cleaned_data.get(f) for f in services.TEAM_FIELDS if f in form.fields})
        return team


# -- workers ------------------------------------------------------------------------------


class WorkerListView(ScopedQuerysetMixin, AccessLogMixin, ListView):
    model = Worker
    template_name = "workforce/worker_list.html"
    context_object_name = "workers"
    paginate_by = 50
    access_log_kind = AccessLog.Kind.LIST

    def get_base_queryset(self):
        qs = Worker.objects.select_related("team", "team__division")
        status = self.request.GET.get("status", "")
        if status in WorkerStatus.values:
            qs = qs.filter(status=status)
        team = self.request.GET.get("team", "")
        if team.isdigit():
            qs = qs.filter(team_id=int(team))
        return qs.order_by("team__division__code", "team__name", "name", "pk")

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        page = list(ctx["workers"])
        self.log_access(page, result_count=ctx["paginator"].count if ctx.get("paginator") else len(page))
        loads = selectors.caseload_counts(self.request.user, [w.user_id for w in page])
        ctx.update(rows=[(w, loads.get(w.user_id)) for w in page], tab="workers",
                   statuses=WorkerStatus.choices, teams=selectors.teams_for(self.request.user).order_by(
                       "division__code", "name"),
                   can_add=has_model_permission(self.request.user, Worker, ADD))
        return ctx


class WorkerDetailView(ScopedObjectMixin, AccessLogMixin, DetailView):
    model = Worker
    template_name = "workforce/worker_detail.html"
    context_object_name = "worker"
    access_log_kind = AccessLog.Kind.VIEW

    def get_base_queryset(self):
        return Worker.objects.select_related("team", "team__division", "user")

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        user, worker = self.request.user, self.object
        self.log_access([worker])
        can_change = Worker.objects.restrict(user, CHANGE).filter(pk=worker.pk).exists()
        ctx.update(
            tab="workers", can_change=can_change,
            caseload=selectors.caseload_counts(user, [worker.user_id])[worker.user_id],
            contracts=selectors.contracts_for(user).filter(worker=worker).order_by("-starts_on"),
            trainings=selectors.trainings_for(user).filter(worker=worker),
            appraisals=selectors.appraisals_for(user).filter(worker=worker),
            training_hours=sum((t.duration_h for t in selectors.trainings_for(user).filter(worker=worker)), 0),
            confirm_form=forms.ConfirmForm() if can_change and worker.status == WorkerStatus.PROBATION else None,
            leave_form=forms.LeaveForm() if can_change and worker.in_post else None,
            contract_form=forms.ContractForm() if can_change and worker.in_post else None,
            training_form=forms.TrainingForm() if can_change else None,
            appraisal_form=forms.AppraisalComputeForm() if can_change and has_model_permission(
                user, Appraisal, ADD) else None,
        )
        return ctx


class WorkerCreateView(ScopedPermissionMixin, _FormPage, CreateView):
    """Recruit a worker (their user account exists already)."""

    model = Worker
    action = ADD
    form_class = forms.WorkerForm
    title = gettext_lazy("招聘录入社工")
    tab = "workers"
    detail_url_name = "workforce:worker_detail"

    @property
    def success_message(self):
        return _("已录入社工：%(name)s。") % {"name": self.object.name}

    def save(self, form):
        data = {f: form.cleaned_data.get(f) for f in services.WORKER_FIELDS}
        return services.recruit_worker(user=self.request.user, data=data,
                                       contract_ends_on=form.cleaned_data.get("contract_ends_on"))


class WorkerUpdateView(ScopedObjectMixin, _FormPage, UpdateView):
    model = Worker
    action = CHANGE
    form_class = forms.WorkerEditForm
    title = gettext_lazy("编辑社工信息")
    tab = "workers"
    detail_url_name = "workforce:worker_detail"

    def save(self, form):
        worker, _changed = services.update_worker(
            user=self.request.user, worker=self.object, expected_version=form.cleaned_data["version"],
            data={f: form.cleaned_data.get(f) for f in services.WORKER_EDIT_FIELDS})
        return worker


class _WorkerAction(RecordActionView):
    """POST actions on one worker (``pk``): 404 outside the user's change scope; back to
    the worker's page."""

    model = Worker
    action = CHANGE

    def get_base_queryset(self):
        return Worker.objects.select_related("team")

    def back_url(self, worker, result=None):
        return reverse("workforce:worker_detail", args=[worker.pk])


class WorkerConfirmView(_WorkerAction):
    form_class = forms.ConfirmForm

    def act(self, worker, data):
        return run_service(self.request, lambda: services.confirm_worker(
            user=self.request.user, worker=worker, on=data["on"]), _("已转正。"))


class WorkerLeaveView(_WorkerAction):
    form_class = forms.LeaveForm

    def act(self, worker, data):
        return run_service(self.request, lambda: services.end_employment(
            user=self.request.user, worker=worker, kind=data["kind"], on=data["on"], reason=data["reason"]),
            _("已记录离职；其帮扶对象已转入所在镇街的未分配名单。"))


class ContractCreateView(_WorkerAction):
    form_class = forms.ContractForm

    def act(self, worker, data):
        return run_service(self.request, lambda: services.add_contract(
            user=self.request.user, worker=worker, starts_on=data["starts_on"], ends_on=data["ends_on"],
            note=data.get("note", "")), _("已新增合同期。"))


class TrainingCreateView(_WorkerAction):
    form_class = forms.TrainingForm

    def act(self, worker, data):
        return run_service(self.request, lambda: services.record_training(
            user=self.request.user, worker=worker, data=data), _("已记录培训。"))


class AppraisalComputeView(_WorkerAction):
    """Compute a worker's appraisal for a period; on success go to the appraisal."""

    model = Appraisal
    action = ADD
    form_class = forms.AppraisalComputeForm
    refused_message = gettext_noop("未计算：%(reason)s")

    def get_queryset(self):
        return Worker.objects.restrict(self.request.user, CHANGE)

    def act(self, worker, data):
        return run_service(self.request, lambda: services.compute_appraisal(
            user=self.request.user, worker=worker, period_label=data["period_label"]),
            lambda a: _("已计算 %(period)s 考核：量化得分 %(score)s。") % {"period": a.period_label,
                                                                     "score": a.computed_score})

    def back_url(self, worker, appraisal=None):
        if appraisal is not None:
            return reverse("workforce:appraisal_detail", args=[appraisal.pk])
        return super().back_url(worker)


# -- appraisal ----------------------------------------------------------------------------

COMPONENT_LABELS = {
    "contacts": _("按期联系（谈话、家访、电话、视频）"),
    "tests": _("按期尿检"),
    "reassessments": _("按期风险评估"),
    "handovers": _("出所衔接按期报到"),
    "no_overdue": _("无逾期待办的人员占比"),
}


class AppraisalDetailView(ScopedObjectMixin, DetailView):
    model = Appraisal
    template_name = "workforce/appraisal_detail.html"
    context_object_name = "appraisal"

    def get_base_queryset(self):
        return Appraisal.objects.select_related("worker", "worker__team", "contract")

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        user, a = self.request.user, self.object
        can_change = a.decision == RenewalDecision.PENDING and Appraisal.objects.restrict(user, CHANGE).filter(
            pk=a.pk).exists()
        card = a.scorecard or {}
        components = [(COMPONENT_LABELS.get(k, k), v) for k, v in (card.get("components") or {}).items()]
        ctx.update(tab="workers", components=components, card=card, conf=workforce_settings(),
                   suggestion=services.suggested_decision(a),
                   marks=[(forms.MARK_LABELS.get(k, k), v) for k, v in (a.supervisor_marks or {}).items()],
                   marks_form=forms.MarksForm(appraisal=a) if can_change else None,
                   decision_form=forms.DecisionForm() if can_change and a.total_score is not None else None)
        return ctx


class _AppraisalAction(RecordActionView):
    """POST actions on one appraisal (``pk``) in the user's change scope; back to its page."""

    model = Appraisal
    action = CHANGE

    def back_url(self, appraisal, result=None):
        return reverse("workforce:appraisal_detail", args=[appraisal.pk])


class AppraisalMarkView(_AppraisalAction):
    def get_form(self, appraisal):
        return forms.MarksForm(self.request.POST, appraisal=appraisal)

    def act(self, appraisal, data):
        return run_service(self.request, lambda: services.mark_appraisal(
            user=self.request.user, appraisal=appraisal, marks=self.form.marks(), expected_version=data["version"]),
            lambda a: _("已保存主管评分，总分 %(total)s。") % {"total": a.total_score})


class AppraisalDecideView(_AppraisalAction):
    form_class = forms.DecisionForm

    def act(self, appraisal, data):
        return run_service(self.request, lambda: services.decide_renewal(
            user=self.request.user, appraisal=appraisal, decision=data["decision"], reason=data["reason"]),
            lambda a: _("已作出续聘决定：%(d)s。") % {"d": a.get_decision_display()})


class RenewalsView(ScopedPermissionMixin, TemplateView):
    """Contracts whose renewal decision is due within 60 days or overdue."""

    model = Worker
    template_name = "workforce/renewals.html"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx.update(tab="renewals", contracts=selectors.renewals_due(self.request.user)[:500])
        return ctx


# -- meetings -----------------------------------------------------------------------------


class MeetingListView(ScopedQuerysetMixin, ListView):
    model = Meeting
    template_name = "workforce/meeting_list.html"
    context_object_name = "meetings"
    paginate_by = 50

    def get_base_queryset(self):
        return Meeting.objects.select_related("team", "team__division").prefetch_related("attendees")

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), "tab": "meetings",
                "can_add": has_model_permission(self.request.user, Meeting, ADD)}


class MeetingDetailView(ScopedObjectMixin, DetailView):
    model = Meeting
    template_name = "workforce/meeting_detail.html"
    context_object_name = "meeting"

    def get_base_queryset(self):
        return Meeting.objects.select_related("team", "recorded_by")

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx.update(tab="meetings", attendees=selectors.workers_for(self.request.user).filter(
            meetings=self.object).order_by("name"))
        return ctx


class MeetingCreateView(ScopedPermissionMixin, _FormPage, CreateView):
    model = Meeting
    action = ADD
    form_class = forms.MeetingForm
    title = gettext_lazy("记录例会")
    tab = "meetings"
    detail_url_name = "workforce:meeting_detail"
    success_message = gettext_lazy("已记录例会。")

    def save(self, form):
        data = {f: form.cleaned_data.get(f) for f in services.MEETING_FIELDS}
        return services.record_meeting(user=self.request.user, data=data, attendees=form.cleaned_data["attendees"])


# -- caseloads ----------------------------------------------------------------------------

UNASSIGNED_PAGE = 200


class _TownMixin(ScopedPermissionMixin):
    model = Worker

    def get_town(self) -> Division:
        """The town ``pk``; 404 unless the user may see workers there (a squadron leader
        holding the role in one town reaches that town only)."""
        town = Division.objects.filter(pk=self.kwargs["pk"], level=Level.TOWN).first()
        if town is None or not holds_permission_at(self.request.user, "workforce.view_worker", town.path):
            raise Http404
        return town


class CaseloadView(_TownMixin, TemplateView):
    """One town's caseloads: workers in post with their load, the unassigned list with bulk
    assignment, and the balance suggestion (:mod:`jindu.workforce.balance`)."""

    template_name = "workforce/caseload.html"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        user, town = self.request.user, self.get_town()
        workers = list(selectors.in_post_workers(user, town).order_by("name", "pk"))
        loads = selectors.caseload_counts(user, [w.user_id for w in workers])
        unassigned_qs = selectors.unassigned(user, town)
        total = unassigned_qs.count()
        unassigned = list(unassigned_qs[:UNASSIGNED_PAGE])
        suggestion, _w = selectors.balance_suggestion(user, town)
        names = {w.user_id: w.name for w in workers}
        moved = [m.person_id for m in suggestion.moves] + suggestion.unplaced
        people = {p.pk: p for p in selectors.caseload_people(user).filter(pk__in=moved).select_related(
            "assigned_worker")}
        shown = [p.pk for p in unassigned] + list(people)
        if shown:
            log_access(kind=AccessLog.Kind.LIST, model="persons.Person", user=user, object_ids=shown,
                       result_count=total + len(people), path=self.request.path)
        can_assign = has_model_permission(user, Worker, VIEW) and bool(workers)
        ctx.update(
            tab="staffing", town=town, workers=[(w, loads[w.user_id]) for w in workers], unassigned=unassigned,
            unassigned_total=total, page_limit=UNASSIGNED_PAGE, can_assign=can_assign,
            assign_form=forms.AssignForm(workers=selectors.in_post_workers(user, town)) if can_assign else None,
            moves=[(people.get(m.person_id), names.get(m.from_worker_id) if m.from_worker_id else None,
                    names.get(m.to_worker_id), m) for m in suggestion.moves],
            unplaced=[people.get(i) for i in suggestion.unplaced], suggestion=suggestion,
            moves_value=";".join(f"{m.person_id}:{m.from_worker_id or 0}:{m.to_worker_id}" for m in suggestion.moves),
            conf=workforce_settings(),
        )
        return ctx


class CaseloadAssignView(_TownMixin, View):
    """Assign the ticked people (one or many) of a town to one worker."""

    http_method_names = ["post"]

    def post(self, request, pk):
        user, town = request.user, self.get_town()
        ids = [int(i) for i in request.POST.getlist("persons") if i.isdigit()]
        form = forms.AssignForm(request.POST, workers=selectors.in_post_workers(user, town), person_ids=ids)
        back = HttpResponseRedirect(reverse("workforce:caseload", args=[town.pk]))
        if not form.is_valid():
            messages.error(request, _("未分配：%(reason)s") % {"reason": form_error_text(form)})
            return back
        people = list(selectors.caseload_people(user).filter(pk__in=form.cleaned_data["persons"],
                                                             residence_division__path__startswith=town.path)
                      .select_related("residence_division"))
        if len(people) != len(set(form.cleaned_data["persons"])):
            messages.error(request, _("未分配：勾选的人员中有人不在本镇街或不在您的管辖范围内。"))
            return back
        worker = form.cleaned_data["worker"]
        run_service(request, lambda: services.assign_caseload(user=user, worker=worker, persons=people,
                                                       reason=form.cleaned_data["reason"]),
             lambda n: _("已将 %(n)d 人分配给%(name)s。") % {"n": n, "name": worker.name})
        return back


class CaseloadBalanceView(_TownMixin, View):
    """Apply the balance suggestion the user saw (``moves`` = ``person:from:to;…``)."""

    http_method_names = ["post"]

    def post(self, request, pk):
        user, town = request.user, self.get_town()
        back = HttpResponseRedirect(reverse("workforce:caseload", args=[town.pk]))
        try:
            moves = [Move(int(p), int(f) or None, int(t))
                     for p, f, t in (item.split(":") for item in request.POST.get("moves", "").split(";") if item)]
        except ValueError:
            messages.error(request, _("未调整：提交的数据有误，请刷新页面后重试。"))
            return back
        run_service(request, lambda: services.apply_balance(user=user, town=town, moves=moves,
                                                     reason=request.POST.get("reason", "").strip()),
             lambda n: _("已按建议调整 %(n)d 人的责任社工。") % {"n": n})
        return back
