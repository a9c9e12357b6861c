"""Worklist pages: the social worker's day ("我的工作台"), the per-division drill-down
(district → towns → villages → people) and the summary card the home page can load.

Counts and lists come from :mod:`jindu.persons.worklists` (scoped, one grouped query);
every page listing people is access-logged.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.http import Http404
from django.shortcuts import get_object_or_404
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext_lazy as _
from django.views.generic import TemplateView

from jindu.core.audit import log_access
from jindu.core.models import AccessLog
from jindu.core.scope import CHANGE, VIEW, has_model_permission
from jindu.core.views.mixins import ScopedPermissionMixin
from jindu.geo.models import Division
from jindu.persons import worklists
from jindu.persons.choices import DueKind
from jindu.persons.models import Person

#: The form that does each kind of due work: (URL name, query, button label).
ACTIONS = {
    DueKind.CONTACT: ("persons:contact_create", {"kind": "interview"}, _("记录谈话")),
    DueKind.HOME_VISIT: ("persons:contact_create", {"kind": "home_visit"}, _("记录家访")),
    DueKind.URINALYSIS: ("persons:test_create", {"kind": "urinalysis"}, _("记录尿检")),
    DueKind.HAIR_TEST: ("persons:test_create", {"kind": "hair_test"}, _("记录毛发检测")),
    DueKind.REASSESSMENT: ("persons:risk_assess", {"trigger": "periodic"}, _("风险评估")),
    DueKind.PLAN_REVIEW: ("persons:plan_create", {}, _("回顾帮扶计划")),
    DueKind.REPORT: ("persons:event_create", {"kind": "reported"}, _("登记报到")),
    DueKind.HANDOVER: ("persons:person_detail", {}, _("查看衔接")),
}

BUCKET_LABELS = {"overdue": _("已逾期"), "today": _("今日到期"), "week": _("本周内到期")}


def annotate_actions(items, *, back: str, can_record: bool) -> None:
    """Give each due item ``action_url`` / ``action_label`` (empty when the user may not record)."""
    for item in items:
        item.action_url, item.action_label = "", ""
        if not can_record:
            continue
        name, query, label = ACTIONS.get(item.kind, ("persons:person_detail", {}, _("查看")))
        if item.kind == DueKind.HANDOVER:
            try:  # the handover pages of the workflows module, when present
                item.action_url, item.action_label = reverse("persons:handover_list"), label
                continue
            except NoReverseMatch:
                pass
        url = reverse(name, args=[item.person_id])
        params = {**query, "next": back} if name != "persons:person_detail" else {}
        item.action_url = f"{url}?{urlencode(params)}" if params else url
        item.action_label = label


def _log(request, worklist) -> None:
    ids = sorted({i.person_id for items in (worklist.overdue, worklist.due_today, worklist.this_week) for i in items})
    log_access(kind=AccessLog.Kind.LIST, model=Person, user=request.user, object_ids=ids, path=request.path,
               query=request.GET.dict())


class MyWorklistView(ScopedPermissionMixin, TemplateView):
    """What is due for the people assigned to the user: overdue, today, later this week, each
    with a one-click link to the form that records the work (and back here)."""

    model = Person
    action = VIEW
    template_name = "persons/my_worklist.html"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        user = self.request.user
        worklist = worklists.my_worklist(user)
        can_record = has_model_permission(user, Person, CHANGE)
        back = reverse("persons:my_worklist")
        for items in (worklist.overdue, worklist.due_today, worklist.this_week):
            annotate_actions(items, back=back, can_record=can_record)
        _log(self.request, worklist)
        ctx.update(
            worklist=worklist,
            sections=[("overdue", BUCKET_LABELS["overdue"], worklist.overdue),
                      ("today", BUCKET_LABELS["today"], worklist.due_today),
                      ("week", BUCKET_LABELS["week"], worklist.this_week)],
            caseload=worklists.my_people(user).count(),
            roots=worklists.root_divisions(user),
        )
        return ctx


class DivisionWorklistView(ScopedPermissionMixin, TemplateView):
    """Counts of due work per kind and bucket for the divisions under one division (drill
    down by clicking a row); a village shows its people. Without a division: the user's top
    division (or the list of them when there are several)."""

    model = Person
    action = VIEW
    template_name = "persons/division_worklist.html"

    def get_division(self):
        user = self.request.user
        pk = self.kwargs.get("pk")
        if pk is not None:
            return get_object_or_404(Division.objects.restrict(user, VIEW).select_related("parent"), pk=pk)
        roots = worklists.root_divisions(user)
        if not roots:
            raise Http404
        return roots[0]

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        user = self.request.user
        division = self.get_division()
        data = worklists.division_worklist(user, division)
        roots = worklists.root_divisions(user)
        root_paths = [r.path for r in roots]
        ancestors = [d for d in _ancestors(division) if any(d.path.startswith(p) for p in root_paths)]
        if data.worklist is not None:
            back = reverse("persons:division_worklist", args=[division.pk])
            can_record = has_model_permission(user, Person, CHANGE)
            for items in (data.worklist.overdue, data.worklist.due_today, data.worklist.this_week):
                annotate_actions(items, back=back, can_record=can_record)
            _log(self.request, data.worklist)
        kinds = [(value, label) for value, label in DueKind.choices]
        ctx.update(
            data=data, division=division, ancestors=ancestors, roots=roots, kinds=kinds,
            kind_rows=[(label, data.by_kind.get(value, {})) for value, label in kinds],
            bucket_labels=BUCKET_LABELS,
            sections=([("overdue", BUCKET_LABELS["overdue"], data.worklist.overdue),
                       ("today", BUCKET_LABELS["today"], data.worklist.due_today),
                       ("week", BUCKET_LABELS["week"], data.worklist.this_week)] if data.worklist else []),
            person_list_filters=division.level in ("district", "town"),
        )
        return ctx


def _ancestors(division: Division) -> list[Division]:
    """``division`` and the divisions above it, top first (one query, by path prefixes)."""
    prefixes = [division.path[: i + 1] for i, ch in enumerate(division.path) if ch == "/"]
    return list(Division.objects.filter(path__in=prefixes).order_by("depth"))


class WorklistCardView(ScopedPermissionMixin, TemplateView):
    """The worklist summary card alone (``persons/_worklist_card.html``), for the home page
    to load with htmx (``hx-get`` on this URL, ``hx-trigger="load"``)."""

    model = Person
    action = VIEW
    template_name = "persons/_worklist_card.html"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx["worklist_summary"] = worklists.summary(self.request.user)
        return ctx
