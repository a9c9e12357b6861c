"""The registry pages: person list (filters, search, pages), the person's file (一人一档),
register and edit (versioned), worker assignment, timeline events and their correction.

Reads go through ``Person.objects.restrict(user, action)`` (out of scope: 404); writes
through :mod:`jindu.persons.services`. Every list page and every file shown is access-logged.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.generic import CreateView, DetailView, FormView, UpdateView
from django_filters.views import FilterView
from django_tables2 import SingleTableMixin

from jindu.core.idnumbers import display_identity_number, may_view_identity_number
from jindu.core.models import AccessLog, StaleEditError
from jindu.core.scope import ADD, CHANGE, grant_roots, has_model_permission, permission_name
from jindu.core.timeutils import due_status, local_today
from jindu.core.views.mixins import (
    STALE_MESSAGE,
    AccessLogMixin,
    ScopedObjectMixin,
    ScopedPermissionMixin,
    ScopedQuerysetMixin,
    VersionedEditMixin,
)
from jindu.persons import services
from jindu.persons.choices import EventKind, Status
from jindu.persons.filtersets import PersonFilterSet
from jindu.persons.forms import AssignWorkerForm, CorrectionForm, EventForm, PersonForm
from jindu.persons.models import Event, Person
from jindu.persons.services.casework import needs_reassessment, person_state, trigger_label
from jindu.persons.tables import PersonTable
from jindu.persons.views import add_service_errors, safe_next

TEST_KINDS = (EventKind.URINALYSIS, EventKind.HAIR_TEST)


class PersonListView(ScopedQuerysetMixin, AccessLogMixin, SingleTableMixin, FilterView):
    """People the user may see, with filters and search; identity numbers masked per role
    and per the person's division; the page shown is access-logged (search: ``search``)."""

    model = Person
    table_class = PersonTable
    filterset_class = PersonFilterSet
    template_name = "persons/person_list.html"
    paginate_by = 25
    access_log_kind = AccessLog.Kind.LIST

    def get_base_queryset(self):
        return (Person.objects.filter(merged_into=None)
                .select_related("residence_division", "residence_division__parent", "assigned_worker"))

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        table = ctx["table"]
        page = getattr(table, "page", None)
        rows = list(page.object_list.data) if page is not None else []
        if getattr(self.filterset, "is_search", False):
            self.access_log_kind = AccessLog.Kind.SEARCH
        self.log_access(rows, result_count=table.paginator.count if page is not None else 0)
        ctx["can_add"] = has_model_permission(self.request.user, Person, ADD)
        ctx["status_choices"] = Status.choices
        return ctx


def _due_rows(items):
    rows = []
    for item in items:
        item.due_state = due_status(item.due_on)
        rows.append(item)
    return rows


class PersonDetailView(ScopedObjectMixin, AccessLogMixin, DetailView):
    """The person's file: derived status with the rules' explanation, timeline, contacts,
    tests, plan, help given, assessments and what is due."""

    model = Person
    template_name = "persons/person_detail.html"
    context_object_name = "person"
    access_log_kind = AccessLog.Kind.VIEW

    def get_base_queryset(self):
        return Person.objects.select_related("residence_division", "residence_division__parent",
                                             "household_division", "assigned_worker", "registering_unit")

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        user, person = self.request.user, self.object
        self.log_access([person])
        state, _events = person_state(person)
        events = list(person.events.select_related("substance", "recorded_by").order_by("-occurred_on", "-pk"))
        corrected = {e.corrects_id for e in events if e.corrects_id}
        for e in events:
            e.is_voided = e.pk in corrected
        assessments = list(person.assessments.select_related("assessor").order_by("-assessed_on", "-pk"))
        for a in assessments:
            a.trigger_label = trigger_label(a.trigger)
        assistance = list(person.assistance.select_related("provider").order_by("-given_on", "-pk"))
        can_change = Person.objects.restrict(user, CHANGE).filter(pk=person.pk).exists()
        ctx.update(
            state=state,
            status_label=Status(state.status).label,
            identity_display=display_identity_number(person.identity_number, user, person.residence_division),
            events=events,
            tests=[e for e in events if e.kind in TEST_KINDS],
            contacts=list(person.contacts.select_related("worker").order_by("-occurred_on", "-pk")),
            plans=list(person.plans.select_related("responsible_worker").order_by("-is_active", "-starts_on", "-pk")),
            assistance=assistance,
            assistance_jobs=sum(1 for a in assistance if a.job_found),
            assessments=assessments,
            due_items=_due_rows(person.due_items.order_by("due_on", "kind")),
            drugs=list(person.drugs.order_by("name_zh")),
            can_change=can_change,
            can_assign=can_change and not _assigned_only(user),
            assign_form=AssignWorkerForm(user=user, person=person) if can_change and not _assigned_only(user) else None,
            today=local_today(),
        )
        return ctx


def _assigned_only(user) -> bool:
    """Whether every person grant of ``user`` is narrowed to assigned people (social workers
    do not assign people to themselves or others)."""
    return grant_roots(user, permission_name(Person, CHANGE)) == []


class PersonCreateView(ScopedPermissionMixin, VersionedEditMixin, CreateView):
    model = Person
    action = ADD
    form_class = PersonForm
    template_name = "persons/person_form.html"
    success_message = ""

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "user": self.request.user, "action": ADD}

    def form_valid(self, form):
        try:
            self.object = services.register_person(user=self.request.user, data=form.service_data(),
                                                   drugs=form.cleaned_data.get("drugs") or [])
        except ValidationError as exc:
            add_service_errors(form, exc)
            return self.form_invalid(form)
        except PermissionDenied:
            form.add_error("residence_division", _("该居住地不在您可以登记人员的范围内"))
            return self.form_invalid(form)
        messages.success(self.request, _("已登记：%(name)s。") % {"name": self.object.name})
        return HttpResponseRedirect(reverse("persons:person_detail", args=[self.object.pk]))


class PersonUpdateView(ScopedObjectMixin, VersionedEditMixin, UpdateView):
    """Edit a person. A stale save (someone saved in between) is refused with a clear message;
    the form is shown again with what the user typed (nothing lost), the values now stored
    next to it, and the current version, so saving again is a deliberate decision."""

    model = Person
    action = CHANGE
    form_class = PersonForm
    template_name = "persons/person_form.html"
    context_object_name = "person"

    def get_base_queryset(self):
        return Person.objects.select_related("residence_division", "residence_division__parent")

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "user": self.request.user, "action": CHANGE}

    def form_valid(self, form):
        try:
            person, changed = services.update_person(
                user=self.request.user, person=self.object, data=form.service_data(),
                expected_version=form.cleaned_data["version"], drugs=form.cleaned_data.get("drugs"))
        except StaleEditError as exc:
            return self.stale(form, exc)
        except ValidationError as exc:
            add_service_errors(form, exc)
            return self.form_invalid(form)
        except PermissionDenied:
            form.add_error(None, _("保存失败：修改后的记录将超出您的管辖范围，修改未保存。"))
            return self.form_invalid(form)
        messages.success(self.request, _("已保存。") if changed else _("没有修改。"))
        return HttpResponseRedirect(reverse("persons:person_detail", args=[person.pk]))

    def stale(self, form, exc: StaleEditError):
        current = Person.objects.get(pk=self.object.pk)
        data = form.data.copy()
        data[form.add_prefix("version")] = str(current.version)
        # A separate instance: validating the form writes the typed values onto its instance.
        fresh = self.get_form_class()(data, instance=Person.objects.get(pk=current.pk), user=self.request.user,
                                      action=CHANGE)
        fresh.is_valid()
        fresh.add_error(None, STALE_MESSAGE % {"expected": exc.expected, "actual": exc.actual})
        fresh.add_error(None, _("您填写的内容仍保留在下方；“当前已保存的内容”列出了他人保存的值。"
                                "核对后再次点击“保存”将以您填写的内容为准。"))
        differences = []
        for name, field in fresh.fields.items():
            if name in ("version",):
                continue
            stored = current.drugs.all() if name == "drugs" else getattr(current, name, None)
            initial = field.prepare_value(list(stored) if name == "drugs" else stored)
            typed = fresh[name].value()
            if name == "identity_number" and not may_view_identity_number(self.request.user,
                                                                          current.residence_division):
                continue
            if _as_text(initial) != _as_text(typed):
                differences.append({"label": field.label, "stored": _display(current, name, stored)})
        self.object = current
        return self.render_to_response(self.get_context_data(form=fresh, stale_differences=differences))


def _as_text(value) -> str:
    if isinstance(value, (list, tuple)):
        return ",".join(sorted(str(v) for v in value))
    return "" if value is None else str(value)


def _display(person: Person, name: str, value) -> str:
    if name == "drugs":
        return "、".join(s.name_zh for s in value) or "—"
    getter = getattr(person, f"get_{name}_display", None)
    if getter is not None:
        return str(getter()) or "—"
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, bool):
        return _("是") if value else _("否")
    return "—" if value in (None, "") else str(value)


class _PersonActionMixin(ScopedPermissionMixin):
    """Pages acting on one person: 403 without the permission on ``model``/``action``, 404
    when the person is outside the scope where the user may change people."""

    model = Person
    action = CHANGE
    person_action = CHANGE

    def dispatch(self, request, *args, **kwargs):
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        if not has_model_permission(request.user, self.model, self.action):
            raise PermissionDenied(_("您的角色没有此操作的权限。"))
        self.person = get_object_or_404(
            Person.objects.restrict(request.user, self.person_action).select_related(
                "residence_division", "residence_division__parent", "assigned_worker"),
            pk=kwargs["pk"])
        return super().dispatch(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx["person"] = self.person
        ctx["next"] = safe_next(self.request)
        return ctx

    def done(self, message: str, anchor: str = ""):
        messages.success(self.request, message)
        target = safe_next(self.request)
        return HttpResponseRedirect(target or reverse("persons:person_detail", args=[self.person.pk]) + anchor)


class AssignWorkerView(_PersonActionMixin, FormView):
    form_class = AssignWorkerForm
    template_name = "persons/person_detail.html"
    http_method_names = ["post"]

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "user": self.request.user, "person": self.person}

    def form_valid(self, form):
        worker = form.cleaned_data["worker"]
        try:
            services.assign_worker(user=self.request.user, persons=[self.person], worker=worker,
                                   reason=form.cleaned_data["reason"])
        except PermissionDenied:
            messages.error(self.request, _("未保存：该人员超出您的管辖范围。"))
            return HttpResponseRedirect(reverse("persons:person_detail", args=[self.person.pk]))
        name = (worker.full_name or worker.username) if worker else _("（不指定）")
        return self.done(_("责任社工已设为：%(name)s。") % {"name": name})

    def form_invalid(self, form):
        errors = "；".join(str(e) for es in form.errors.values() for e in es)
        messages.error(self.request, _("未保存：%(reason)s") % {"reason": errors})
        return HttpResponseRedirect(reverse("persons:person_detail", args=[self.person.pk]))


class EventCreateView(_PersonActionMixin, FormView):
    """Record one timeline event (backdating allowed: paper records are entered late)."""

    model = Event
    action = ADD
    form_class = EventForm
    template_name = "persons/event_form.html"

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "user": self.request.user}

    def get_initial(self):
        kind = self.request.GET.get("kind")
        return {"kind": kind} if kind in EventKind.values and kind != EventKind.CORRECTION else {}

    def form_valid(self, form):
        data = {k: v for k, v in form.cleaned_data.items() if v not in (None, "")}
        try:
            event = services.add_event(user=self.request.user, person=self.person, data=data)
        except ValidationError as exc:
            add_service_errors(form, exc)
            return self.form_invalid(form)
        except PermissionDenied:
            form.add_error(None, _("保存失败：该人员超出您的管辖范围。"))
            return self.form_invalid(form)
        message = _("已记录：%(event)s。") % {"event": event}
        if needs_reassessment(event):
            message += " " + _("该事件需要重新进行风险评估。")
        return self.done(message, "#timeline")


class EventCorrectView(_PersonActionMixin, FormView):
    """Void a wrong record with a correction event (records are never deleted)."""

    model = Event
    action = ADD
    form_class = CorrectionForm
    template_name = "persons/event_correct.html"

    def get_event(self) -> Event:
        if not hasattr(self, "_event"):
            self._event = get_object_or_404(Event.objects.filter(person=self.person), pk=self.kwargs["event_pk"])
        return self._event

    def get(self, request, *args, **kwargs):
        self.get_event()
        return super().get(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx["event"] = self.get_event()
        ctx["already_corrected"] = Event.objects.filter(corrects=self.get_event()).exists()
        return ctx

    def form_valid(self, form):
        try:
            services.correct_event(user=self.request.user, event=self.get_event(), reason=form.cleaned_data["reason"])
        except ValidationError as exc:
            add_service_errors(form, exc, {"notes": "reason"})
            return self.form_invalid(form)
        except PermissionDenied:
            form.add_error(None, _("保存失败：该人员超出您的管辖范围。"))
            return self.form_invalid(form)
        return self.done(_("已更正该记录：状态已按更正后的时间线重新计算。"), "#timeline")

