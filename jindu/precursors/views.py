"""Precursor pages: the overview of the user's scope, the enterprise list and the enterprise
page (licences, balances, ledger, counts, discrepancies, inspections and hazards on one
page), enterprise and licence forms, ledger posting and voiding, stock counts, the
supervisor's discrepancy queue with its workflow, and each department's supervision list.

Reads go through :mod:`jindu.precursors.selectors` (scoped: out of scope is 404); writes
through :mod:`jindu.precursors.services`, whose Chinese ``ValidationError`` messages are
shown on the form. An enterprise's own users (role ``enterprise``) see only their
enterprise and never discrepancies; their "易制毒化学品" link leads to their enterprise.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib import messages
from django.core.exceptions import BadRequest, PermissionDenied, ValidationError
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.generic import DetailView, FormView, TemplateView
from django_filters.views import FilterView
from django_tables2 import RequestConfig, SingleTableMixin

from jindu.core.models import AccessLog, StaleEditError
from jindu.core.scope import ADD, CHANGE, VIEW, has_model_permission, permission_name, user_grants
from jindu.core.timeutils import local_today
from jindu.core.views.actions import RecordActionView, run_service
from jindu.core.views.imports import ExportView
from jindu.core.views.mixins import (
    OUT_OF_SCOPE_MESSAGE,
    STALE_MESSAGE,
    AccessLogMixin,
    ScopedObjectMixin,
    ScopedPermissionMixin,
    ScopedQuerysetMixin,
)
from jindu.precursors import exporters, selectors, services
from jindu.precursors.choices import ChemicalCategory, DiscrepancyStatus, EntrySource, LicenceStatus
from jindu.precursors.filtersets import DiscrepancyFilterSet, EnterpriseFilterSet, LedgerFilterSet
from jindu.precursors.forms import (
    ENTERPRISE_FIELDS,
    LICENCE_FIELDS,
    AssignForm,
    CloseForm,
    EnterpriseForm,
    LedgerEntryForm,
    LicenceForm,
    LicenceLineFormSet,
    ReopenForm,
    RevokeForm,
    StockCountForm,
    VoidForm,
    WorkForm,
)
from jindu.precursors.models import (
    Destruction,
    Discrepancy,
    Enterprise,
    LedgerEntry,
    Licence,
    StockCount,
)
from jindu.precursors.tables import (
    DiscrepancyTable,
    EnterpriseTable,
    LedgerTable,
    SupervisionTable,
    entered_text,
    kg_text,
)

#: Chinese labels of the keys reconciliation rules write into ``Discrepancy.details``
#: (kilograms as strings, dates ISO); other keys are shown as written.
DETAIL_LABELS = {
    "chemical": gettext_lazy("品种"), "category": gettext_lazy("类别"), "quantity_kg": gettext_lazy("数量（千克）"),
    "qty": gettext_lazy("数量（千克）"), "date": gettext_lazy("日期"), "month": gettext_lazy("月份"),
    "occurred_on": gettext_lazy("发生日期"), "received_on": gettext_lazy("入库日期"), "days": gettext_lazy("天数"),
    "window_days": gettext_lazy("匹配窗口（天）"), "entries": gettext_lazy("涉及台账（笔）"),
    "n": gettext_lazy("笔数"), "doc": gettext_lazy("单据编号"), "number": gettext_lazy("证照编号"),
    "party": gettext_lazy("对方单位"), "counterparty": gettext_lazy("对方单位"), "buyer": gettext_lazy("购买方"),
    "counted_kg": gettext_lazy("实盘（千克）"), "ledger_kg": gettext_lazy("账面（千克）"),
    "difference_kg": gettext_lazy("差额（千克）"), "tolerance_kg": gettext_lazy("容差（千克）"),
    "limit_kg": gettext_lazy("许可限量（千克）"), "cumulative_kg": gettext_lazy("累计数量（千克）"),
    "excess_kg": gettext_lazy("超出数量（千克）"), "first_excess_on": gettext_lazy("首次超量日期"),
    "remaining_kg": gettext_lazy("剩余数量（千克）"), "lot_kg": gettext_lazy("批次数量（千克）"),
    "expires_on": gettext_lazy("失效日期"), "month_kg": gettext_lazy("当月数量（千克）"),
    "median_kg": gettext_lazy("历史月中位数（千克）"), "mad_kg": gettext_lazy("中位绝对偏差（千克）"),
    "mean_abs_dev_kg": gettext_lazy("平均绝对偏差（千克）"), "robust_z": gettext_lazy("稳健Z值"),
    "z": gettext_lazy("稳健Z值"), "months": gettext_lazy("历史月数"), "deadline_days": gettext_lazy("报告时限（天）"),
    "max_days_to_report": gettext_lazy("报告时限（天）"), "unreported": gettext_lazy("未报告（笔）"),
    "reported_late": gettext_lazy("逾期报告（笔）"), "required_document": gettext_lazy("应持证照"),
    "missing_number": gettext_lazy("未填证照编号（笔）"), "invalid_numbers": gettext_lazy("无效证照编号"),
    "counterparty_id": gettext_lazy("对方企业编号"), "counterparty_kg": gettext_lazy("对方数量（千克）"),
    "counterparty_entries": gettext_lazy("对方台账编号"), "limit": gettext_lazy("限量（千克）"),
    "expires": gettext_lazy("失效日期"), "median": gettext_lazy("中位数"), "diff": gettext_lazy("差额（千克）"),
    "ledger": gettext_lazy("账面（千克）"), "balance_kg": gettext_lazy("结存（千克）"),
    "buyer_enterprise_id": gettext_lazy("购买方企业编号"), "buyer_in_jindu": gettext_lazy("购买方为本系统登记企业"),
}
#: Keys holding kilograms (as strings) besides those ending in ``_kg``.
DETAIL_KG_KEYS = frozenset({"qty", "limit", "diff", "ledger"})


def detail_value(key: str, value: Any) -> str:
    """One value of ``Discrepancy.details`` as a reader wants it: chemical categories by
    name (第一类), kilograms without trailing zeros (``"5.000"`` → ``"5"``), yes/no, lists
    joined; anything unexpected as written."""
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return _("是") if value else _("否")
    if key == "category":
        try:
            return str(ChemicalCategory(int(value)).label)
        except (TypeError, ValueError):
            return str(value)
    if key.endswith("_kg") or key in DETAIL_KG_KEYS:
        try:
            return kg_text(value)
        except (ArithmeticError, TypeError, ValueError):
            return str(value)
    if isinstance(value, (list, tuple)):
        return "、".join(str(v) for v in value) or "—"
    return str(value)


def detail_rows(details: Any) -> list[tuple[str, str]]:
    """``[(Chinese label, formatted value)]`` of a discrepancy's ``details`` mapping."""
    if not isinstance(details, dict):
        return []
    return [(str(DETAIL_LABELS.get(k, k)), detail_value(k, v)) for k, v in details.items()]


IMPORTERS = (("precursors.enterprise", gettext_lazy("导入企业")), ("precursors.licence", gettext_lazy("导入证照")),
             ("precursors.ledger", gettext_lazy("导入台账")))


def enterprise_only(user: Any) -> bool:
    """Whether every grant through which ``user`` sees enterprises is an enterprise's own
    account (assigned-only): such users work on their enterprise, not on a jurisdiction."""
    if getattr(user, "is_superuser", False):
        return False
    perm = permission_name(Enterprise, VIEW)
    grants = [g for g in user_grants(user) if perm in g.permissions]
    return bool(grants) and all(g.assigned_only for g in grants)


def apply_errors(form, exc: ValidationError, model=None) -> None:
    """Put a service's ``ValidationError`` on ``form``: field errors on the field of the same
    name, the rest (named with the model field's label) above the form."""
    if not hasattr(exc, "error_dict"):
        form.add_error(None, exc.messages)
        return
    for name, errors in exc.message_dict.items():
        if name in form.fields:
            form.add_error(name, errors)
            continue
        label = ""
        if model is not None and name != "__all__":
            try:
                label = str(model._meta.get_field(name).verbose_name)
            except Exception:  # not a model field ("lines", "reason")
                label = ""
        form.add_error(None, [f"{label}：{e}" if label else e for e in errors])


class _NavMixin:
    """Context for the module's tabs (``precursors/_nav.html``)."""

    tab = ""

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        user = self.request.user
        ctx["tab"] = self.tab
        ctx["enterprise_user"] = enterprise_only(user)
        if ctx["enterprise_user"]:
            # "本企业" leads straight to the enterprise page when there is just one.
            ids = list(selectors.enterprises_for(user).values_list("pk", flat=True)[:2])
            ctx["own_enterprise_pk"] = ids[0] if len(ids) == 1 else None
        ctx["may_view_discrepancies"] = selectors.may_view_discrepancies(user)
        ctx["may_post"] = has_model_permission(user, LedgerEntry, ADD)
        ctx["may_count"] = has_model_permission(user, StockCount, ADD)
        return ctx


# -- overview --------------------------------------------------------------------------------
def bar_data(values) -> list:
    """ECharts bar values; a zero gets no label (``jindu/charts.js`` labels every bar, and a
    row of "0" over empty bars only hides the ones that matter)."""
    return [v if v else {"value": 0, "label": {"show": False}} for v in values]


class OverviewView(_NavMixin, ScopedPermissionMixin, TemplateView):
    """Enterprises by kind and chemical category, licences expiring in 30/90 days, open
    discrepancies by rule, inspections and hazards of the year, for the user's scope."""

    model = Enterprise
    template_name = "precursors/overview.html"
    tab = "overview"

    def get(self, request, *args, **kwargs):
        if enterprise_only(request.user):
            ids = list(selectors.enterprises_for(request.user).values_list("pk", flat=True)[:2])
            if len(ids) == 1:
                return redirect("precursors:enterprise_detail", pk=ids[0])
            return redirect("precursors:enterprise_list")
        return super().get(request, *args, **kwargs)

    def get_year(self) -> tuple[int, str]:
        today = local_today()
        raw = self.request.GET.get("year", "").strip()
        if not raw:
            return today.year, ""
        if raw.isdigit() and 2000 <= int(raw) <= today.year:
            return int(raw), ""
        return today.year, _("年份“%(v)s”无效，已显示本年。") % {"v": raw[:20]}

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        user = self.request.user
        year, year_error = self.get_year()
        ov = selectors.overview(user, year)
        ctx.update(ov=ov, year=year, year_error=year_error,
                   years=list(range(local_today().year, local_today().year - 5, -1)),
                   categories=ChemicalCategory.choices,
                   category_totals=[(label, ov.category_totals.get(value, 0))
                                    for value, label in ChemicalCategory.choices],
                   can_add=has_model_permission(user, Enterprise, ADD))
        if ov.inspection_rows:
            ctx["inspection_chart"] = {
                "categories": [r.division.name for r in ov.inspection_rows],
                "series": [
                    {"name": _("检查企业数"), "data": bar_data(r.targets_inspected for r in ov.inspection_rows)},
                    {"name": _("发现隐患"), "data": bar_data(r.hazards_found for r in ov.inspection_rows)},
                    {"name": _("已整改隐患"), "data": bar_data(r.hazards_rectified for r in ov.inspection_rows)},
                ],
            }
        ctx["kind_chart"] = {
            "categories": [str(r["label"]) for r in ov.by_kind],
            "series": [{"name": str(label), "data": bar_data(r[f"cat{value}"] for r in ov.by_kind)}
                       for value, label in ChemicalCategory.choices],
        }
        return ctx


# -- enterprises -----------------------------------------------------------------------------
def _importer_links(user) -> list[tuple[str, str]]:
    """Upload links of the precursors importers that exist and that ``user`` may use."""
    from jindu.core.imports.base import get_importer

    links = []
    for name, label in IMPORTERS:
        try:
            importer = get_importer(name)
        except LookupError:
            continue
        if importer.may_import(user):
            links.append((reverse("import_upload", kwargs={"importer": name}), str(label)))
    return links


class EnterpriseListView(_NavMixin, ScopedQuerysetMixin, SingleTableMixin, FilterView):
    """Enterprises of the scope with the list's filters; invalid filters show their errors
    and no rows. Excel export through the core export view with the same filters."""

    model = Enterprise
    table_class = EnterpriseTable
    filterset_class = EnterpriseFilterSet
    template_name = "precursors/enterprise_list.html"
    paginate_by = 25
    tab = "enterprises"

    def get_queryset(self):
        return selectors.enterprise_list(self.request.user)

    def get_table_kwargs(self):
        if not selectors.may_view_discrepancies(self.request.user):
            return {"exclude": ("open_discrepancies",)}
        return {}

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        user = self.request.user
        ctx["can_add"] = has_model_permission(user, Enterprise, ADD)
        ctx["export_url"] = reverse("precursors:enterprise_export")
        ctx["import_links"] = _importer_links(user)
        return ctx


class EnterpriseDetailView(_NavMixin, ScopedObjectMixin, AccessLogMixin, DetailView):
    """Everything about one enterprise on one page."""

    model = Enterprise
    template_name = "precursors/enterprise_detail.html"
    context_object_name = "enterprise"
    access_log_kind = AccessLog.Kind.VIEW  # contact name and phone
    ledger_per_page = 10

    def get_base_queryset(self):
        return Enterprise.objects.select_related("division", "division__parent").prefetch_related(
            "supervising_units")

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        user, e = self.request.user, self.object
        self.log_access([e])
        today = local_today()
        soon = today + timedelta(days=selectors.EXPIRY_SOON_DAYS)
        licences = list(selectors.licences_for(user).filter(enterprise=e).order_by("status", "-valid_until", "pk"))
        for lic in licences:
            lic.expired = lic.valid_until < today
            lic.expiring_soon = lic.status == LicenceStatus.VALID and today <= lic.valid_until <= soon
            lic.line_rows = [(line.chemical, kg_text(line.quantity_limit_kg) if line.quantity_limit_kg else "")
                             for line in lic.lines.all()]
        ctx["licences"] = licences
        ctx["expiring_count"] = sum(1 for lic in licences if lic.expiring_soon)
        ctx["balances"] = [(b, kg_text(b.quantity_kg)) for b in selectors.balances_for(user, e)]
        ledger = LedgerTable(selectors.ledger_for(user, enterprise=e), prefix="ledger-", orderable=False)
        RequestConfig(self.request, paginate={"per_page": self.ledger_per_page}).configure(ledger)
        ctx["ledger_table"] = ledger
        ctx["counts"] = [(c, kg_text(c.quantity_kg), kg_text(c.ledger_balance_kg), kg_text(c.difference_kg))
                         for c in selectors.stock_counts_for(user, e)[:10]]
        if has_model_permission(user, Destruction, VIEW):
            ctx["destructions"] = list(Destruction.objects.restrict(user, VIEW).filter(enterprise=e)
                                       .prefetch_related("witness_units")[:10])
        if selectors.may_view_discrepancies(user):
            qs = selectors.discrepancy_queue(user).filter(enterprise=e)
            ctx["show_discrepancies"] = True
            ctx["discrepancies"] = list(qs[:10])
            ctx["discrepancy_total"] = qs.count()
            ctx["open_discrepancy_total"] = qs.filter(status__in=selectors.OPEN_STATUSES).count()
        ctx["inspection"] = selectors.inspections_of(user, e)
        ctx["categories"] = [ChemicalCategory(c).label for c in selectors.chemical_categories_of(user, e)]
        ctx["can_change"] = Enterprise.objects.restrict(user, CHANGE).filter(pk=e.pk).exists()
        ctx["can_add_licence"] = selectors.enterprises_where(user, Licence, ADD).filter(pk=e.pk).exists()
        ctx["can_post"] = selectors.enterprises_where(user, LedgerEntry, ADD).filter(pk=e.pk).exists()
        ctx["can_count"] = selectors.enterprises_where(user, StockCount, ADD).filter(pk=e.pk).exists()
        ctx["can_revoke"] = has_model_permission(user, Licence, CHANGE)
        ctx["today"] = today
        ctx["licence_export_url"] = reverse("precursors:licence_export")
        return ctx


class _ServiceFormMixin:
    """``form_valid`` calls ``save(form)`` (a service call); stale versions, out-of-scope
    saves and the service's validation errors go back onto the form, nothing written."""

    success_message = gettext_lazy("已保存。")
    error_model = None

    def save(self, form):  # pragma: no cover - abstract
        raise NotImplementedError

    def form_valid(self, form):
        try:
            self.object = self.save(form)
        except StaleEditError as exc:
            form.add_error(None, STALE_MESSAGE % {"expected": exc.expected, "actual": exc.actual})
            return self.form_invalid(form)
        except PermissionDenied as exc:
            form.add_error(None, str(exc) or OUT_OF_SCOPE_MESSAGE)
            return self.form_invalid(form)
        except ValidationError as exc:
            apply_errors(form, exc, self.error_model)
            return self.form_invalid(form)
        if self.success_message:
            messages.success(self.request, self.get_success_message())
        return HttpResponseRedirect(self.get_success_url())

    def get_success_message(self) -> str:
        return str(self.success_message)


class EnterpriseCreateView(_NavMixin, _ServiceFormMixin, ScopedPermissionMixin, FormView):
    model = Enterprise
    action = ADD
    form_class = EnterpriseForm
    template_name = "precursors/form.html"
    error_model = Enterprise
    tab = "enterprises"

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "user": self.request.user, "action": ADD}

    def save(self, form):
        data = {f: form.cleaned_data[f] for f in ENTERPRISE_FIELDS if f in form.cleaned_data}
        return services.create_enterprise(user=self.request.user, data=data)

    def get_success_url(self):
        return reverse("precursors:enterprise_detail", args=[self.object.pk])

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx.update(title=_("登记企业"), cancel_url=reverse("precursors:enterprise_list"))
        return ctx


class EnterpriseUpdateView(_NavMixin, _ServiceFormMixin, ScopedObjectMixin, FormView):
    model = Enterprise
    action = CHANGE
    form_class = EnterpriseForm
    template_name = "precursors/form.html"
    error_model = Enterprise
    tab = "enterprises"

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated and has_model_permission(request.user, Enterprise, CHANGE):
            self.enterprise = get_object_or_404(Enterprise.objects.restrict(request.user, CHANGE), pk=kwargs["pk"])
        return super().dispatch(request, *args, **kwargs)

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "user": self.request.user, "action": CHANGE,
                "instance": self.enterprise}

    def save(self, form):
        data = {f: form.cleaned_data[f] for f in ENTERPRISE_FIELDS if f in form.cleaned_data}
        enterprise, _changed = services.update_enterprise(user=self.request.user, enterprise=self.enterprise,
                                                             data=data,
                                                             expected_version=form.cleaned_data["version"])
        return enterprise

    def get_success_url(self):
        return reverse("precursors:enterprise_detail", args=[self.object.pk])

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx.update(title=_("编辑企业"), enterprise=self.enterprise,
                   cancel_url=reverse("precursors:enterprise_detail", args=[self.enterprise.pk]))
        return ctx


# -- licences --------------------------------------------------------------------------------
class LicenceCreateView(_NavMixin, ScopedPermissionMixin, TemplateView):
    """A licence, filing or permit of one enterprise with its chemicals and limits."""

    model = Licence
    action = ADD
    template_name = "precursors/licence_form.html"
    tab = "enterprises"

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated and has_model_permission(request.user, Licence, ADD):
            self.enterprise = get_object_or_404(selectors.enterprises_where(request.user, Licence, ADD),
                                                pk=kwargs["pk"])
        return super().dispatch(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx["enterprise"] = self.enterprise
        ctx.setdefault("form", LicenceForm())
        ctx.setdefault("formset", LicenceLineFormSet(prefix="lines", user=self.request.user))
        return ctx

    def post(self, request, *args, **kwargs):
        form = LicenceForm(request.POST)
        formset = LicenceLineFormSet(request.POST, prefix="lines", user=request.user)
        if form.is_valid() and formset.is_valid():
            data = {k: form.cleaned_data.get(k) for k in LICENCE_FIELDS}
            data["number_raw"] = data["number"]
            try:
                licence = services.create_licence(user=request.user, enterprise=self.enterprise, data=data,
                                                     lines=formset.lines())
            except PermissionDenied as exc:
                form.add_error(None, str(exc) or OUT_OF_SCOPE_MESSAGE)
            except ValidationError as exc:
                apply_errors(form, exc, Licence)
            else:
                messages.success(request, _("已登记%(l)s。") % {"l": licence})
                return redirect("precursors:enterprise_detail", pk=self.enterprise.pk)
        return self.render_to_response(self.get_context_data(form=form, formset=formset))


class _ActionView(RecordActionView):
    """POST-only actions on one record (:class:`~jindu.core.views.actions.RecordActionView`).
    A refusal for scope shows the service's own sentence (or "保存失败：…超出管辖范围…"),
    as the module's forms do."""

    def run(self, call, ok_message):
        return run_service(self.request, call, ok_message,
                           denied=lambda exc: str(exc) or str(OUT_OF_SCOPE_MESSAGE))


class LicenceRevokeView(_ActionView):
    """Revoke or cancel a licence as of the decision's date (``revoked_on``, may be past)."""

    model = Licence
    action = CHANGE
    form_class = RevokeForm

    def act(self, licence, data):
        return self.run(lambda: services.revoke_licence(user=self.request.user, licence=licence,
                                                        revoked_on=data["revoked_on"], reason=data["reason"]),
                        lambda lic: _("%(l)s 已标记为吊销/注销（%(d)s）。") % {"l": lic, "d": lic.revoked_on})

    def back_url(self, licence, result=None):
        return reverse("precursors:enterprise_detail", args=[licence.enterprise_id])


# -- ledger ----------------------------------------------------------------------------------
class EnterpriseLedgerView(_NavMixin, ScopedPermissionMixin, SingleTableMixin, FilterView):
    """An enterprise's full ledger, newest first, with filters."""

    model = LedgerEntry
    table_class = LedgerTable
    filterset_class = LedgerFilterSet
    template_name = "precursors/ledger_list.html"
    paginate_by = 50
    tab = "enterprises"

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated and has_model_permission(request.user, LedgerEntry, VIEW):
            self.enterprise = get_object_or_404(selectors.enterprises_for(request.user), pk=kwargs["pk"])
        return super().dispatch(request, *args, **kwargs)

    def get_queryset(self):
        return selectors.ledger_for(self.request.user, enterprise=self.enterprise)

    def get_table_kwargs(self):
        # The 作废 column for whoever may void entries of this enterprise: its supervisors,
        # and its own users for their corrections (the entry page says when one is refused).
        user, e = self.request.user, self.enterprise
        if LedgerEntry.objects.restrict(user, CHANGE).filter(enterprise=e).exists():
            return {"void": "any"}
        if LedgerEntry.objects.restrict(user, services.VOID_OWN).filter(enterprise=e).exists():
            return {"void": "own"}
        return {}

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx["enterprise"] = self.enterprise
        ctx["can_post"] = selectors.enterprises_where(self.request.user, LedgerEntry, ADD).filter(
            pk=self.enterprise.pk).exists()
        ctx["export_url"] = reverse("precursors:ledger_export")
        return ctx


class _EnterpriseRecordMixin:
    """A form recording something for one enterprise: the form gets the user (its
    enterprise choices are where the user may record), ``date_field`` starts at today and
    ``?enterprise=<id>`` preselects the enterprise."""

    date_field = ""

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "user": self.request.user}

    def get_initial(self):
        initial = {self.date_field: local_today()}
        pk = self.request.GET.get("enterprise", "")
        if pk.isdigit():
            initial["enterprise"] = int(pk)
        return initial


class LedgerEntryCreateView(_EnterpriseRecordMixin, _NavMixin, _ServiceFormMixin, ScopedPermissionMixin, FormView):
    """Post a ledger entry. Enterprise users post for their own enterprise (the only
    choice); others pick among the enterprises where they may post. ``?enterprise=<id>``
    preselects one."""

    model = LedgerEntry
    action = ADD
    form_class = LedgerEntryForm
    template_name = "precursors/form.html"
    error_model = LedgerEntry
    tab = "post"

    date_field = "occurred_on"

    def save(self, form):
        return services.post_entry(user=self.request.user, enterprise=form.cleaned_data["enterprise"],
                                      data=form.entry_data(), source=EntrySource.MANUAL)

    def get_success_message(self):
        e = self.object
        return _("已登记：%(d)s %(dir)s %(chem)s %(q)s 千克，当前结存 %(b)s 千克。") % {
            "d": e.occurred_on, "dir": e.get_direction_display(), "chem": e.chemical.name_zh,
            "q": kg_text(e.quantity_kg), "b": kg_text(e.balance_after_kg)}

    def get_success_url(self):
        if "again" in self.request.POST:
            return reverse("precursors:entry_create") + f"?enterprise={self.object.enterprise_id}"
        return reverse("precursors:enterprise_detail", args=[self.object.enterprise_id])

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx.update(title=_("登记出入库台账"), again=True, show_nav=True,
                   intro=_("数量按所选单位录入，系统换算为千克保存；出库、使用、销毁、损耗不得使结存为负数。"),
                   cancel_url=reverse("precursors:overview"))
        return ctx


class EntryDetailView(_NavMixin, ScopedObjectMixin, DetailView):
    model = LedgerEntry
    template_name = "precursors/entry_detail.html"
    context_object_name = "entry"
    tab = "enterprises"

    def get_base_queryset(self):
        return LedgerEntry.objects.select_related("enterprise", "chemical", "counterparty", "recorded_by",
                                                  "destruction", "import_batch")

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        user, entry = self.request.user, self.object
        ctx["quantity"] = kg_text(entry.quantity_kg)
        ctx["entered"] = entered_text(entry) if entry.quantity_entered is not None else ""
        ctx["balance_after"] = kg_text(entry.balance_after_kg)
        ctx["counterparty_visible"] = (entry.counterparty_id is not None and selectors.enterprises_for(user).filter(
            pk=entry.counterparty_id).exists())
        ctx["can_void"] = False
        if entry.voided_at is None:
            if LedgerEntry.objects.restrict(user, CHANGE).filter(pk=entry.pk).exists():
                ctx["can_void"] = True
            elif LedgerEntry.objects.restrict(user, services.VOID_OWN).filter(pk=entry.pk).exists():
                # The enterprise's own correction: allowed until a regulator relies on the entry.
                ctx["void_refusal"] = services.own_void_refusal(entry)
                ctx["can_void"] = ctx["void_refusal"] is None
                ctx["own_void"] = True
        ctx["void_form"] = VoidForm()
        if selectors.may_view_discrepancies(user):
            ctx["discrepancies"] = list(selectors.discrepancies_for(user).filter(entries=entry).order_by("-id"))
        return ctx


class EntryVoidView(_ActionView):
    """Void an entry: supervisors (``change``) any in scope; an enterprise's own users
    (``void_own``) their enterprise's, with the service's limits."""

    model = LedgerEntry
    action = CHANGE
    form_class = VoidForm

    def dispatch(self, request, *args, **kwargs):
        user = request.user
        if (user.is_authenticated and not has_model_permission(user, LedgerEntry, CHANGE)
                and has_model_permission(user, LedgerEntry, services.VOID_OWN)):
            self.action = services.VOID_OWN
        return super().dispatch(request, *args, **kwargs)

    def get_queryset(self):
        return services.voidable_entries(self.request.user)

    def act(self, entry, data):
        return self.run(lambda: services.void_entry(user=self.request.user, entry=entry, reason=data["reason"]),
                        _("台账记录已作废，结存已冲回。"))

    def back_url(self, entry, result=None):
        return reverse("precursors:entry_detail", args=[entry.pk])


class StockCountCreateView(_EnterpriseRecordMixin, _NavMixin, _ServiceFormMixin, ScopedPermissionMixin, FormView):
    model = StockCount
    action = ADD
    form_class = StockCountForm
    template_name = "precursors/form.html"
    error_model = StockCount
    tab = "count"

    date_field = "counted_on"

    def save(self, form):
        d = form.cleaned_data
        return services.record_stock_count(user=self.request.user, enterprise=d["enterprise"],
                                              chemical=d["chemical"], counted_on=d["counted_on"],
                                              quantity_kg=d["quantity_kg"], counted_by=d.get("counted_by") or "",
                                              note=d.get("note") or "")

    def get_success_message(self):
        c = self.object
        return _("已登记盘点：%(chem)s 实盘 %(q)s 千克，账面 %(b)s 千克，差额 %(d)s 千克。") % {
            "chem": c.chemical.name_zh, "q": kg_text(c.quantity_kg), "b": kg_text(c.ledger_balance_kg),
            "d": kg_text(c.difference_kg)}

    def get_success_url(self):
        return reverse("precursors:enterprise_detail", args=[self.object.enterprise_id])

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx.update(title=_("登记库存盘点"), show_nav=True, intro=_("账面结存按台账计算至盘点日当天；与实盘不符的由闭环核对列为问题。"),
                   cancel_url=reverse("precursors:overview"))
        return ctx


# -- discrepancies ---------------------------------------------------------------------------
class DiscrepancyListView(_NavMixin, ScopedQuerysetMixin, SingleTableMixin, FilterView):
    """The supervisor's queue: open first, overdue on top."""

    model = Discrepancy
    table_class = DiscrepancyTable
    filterset_class = DiscrepancyFilterSet
    template_name = "precursors/discrepancy_list.html"
    paginate_by = 25
    tab = "discrepancies"

    def get_queryset(self):
        return selectors.discrepancy_queue(self.request.user)

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        from django.db.models import Count, Q

        today = local_today()
        counts = selectors.discrepancies_for(self.request.user).aggregate(
            open=Count("pk", filter=Q(status=DiscrepancyStatus.OPEN)),
            in_progress=Count("pk", filter=Q(status=DiscrepancyStatus.IN_PROGRESS)),
            closed=Count("pk", filter=Q(status=DiscrepancyStatus.CLOSED)),
            overdue=Count("pk", filter=Q(status__in=selectors.OPEN_STATUSES, deadline__lt=today)))
        ctx["counts"] = counts
        return ctx


class DiscrepancyDetailView(_NavMixin, ScopedObjectMixin, DetailView):
    model = Discrepancy
    template_name = "precursors/discrepancy_detail.html"
    context_object_name = "d"
    tab = "discrepancies"

    def get_base_queryset(self):
        return Discrepancy.objects.select_related("enterprise", "enterprise__division", "chemical", "assignee",
                                                  "closed_by", "stock_count", "detected_by_run")

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        user, d = self.request.user, self.object
        ctx["rule_title"] = selectors.rule_title(d.rule)
        ctx["rule_basis"] = selectors.rule_basis(d.rule)
        evidence = selectors.discrepancy_evidence(user, d)
        ctx["evidence_entries"] = [(e, kg_text(e.quantity_kg), kg_text(e.balance_after_kg))
                                   for e in evidence["entries"]]
        ctx["evidence_licences"] = evidence["licences"]
        count = evidence["stock_count"]
        if count is not None:
            ctx["evidence_count"] = (count, kg_text(count.quantity_kg), kg_text(count.ledger_balance_kg),
                                     kg_text(count.difference_kg))
        ctx["details"] = detail_rows(d.details)
        can_change = Discrepancy.objects.restrict(user, CHANGE).filter(pk=d.pk).exists()
        ctx["can_change"] = can_change
        if can_change:
            initial = {"version": d.version}
            if d.status != DiscrepancyStatus.CLOSED:
                ctx["assign_form"] = AssignForm(initial={**initial, "assignee": d.assignee_id,
                                                         "deadline": d.deadline},
                                                assignees=selectors.assignee_candidates(user, d))
                ctx["work_form"] = WorkForm(initial=initial)
                ctx["close_form"] = CloseForm(initial=initial)
            else:
                ctx["reopen_form"] = ReopenForm(initial=initial)
        from jindu.precursors.tables import due_badge

        ctx["due"] = due_badge(d.deadline, d.status)
        return ctx


class _DiscrepancyAction(_ActionView):
    """Workflow steps of one discrepancy: ``call(user, d, data)`` and ``ok_message()``."""

    model = Discrepancy
    action = CHANGE

    def get_base_queryset(self):
        return Discrepancy.objects.select_related("enterprise__division")

    def act(self, d, data):
        return self.run(lambda: self.call(self.request.user, d, data), self.ok_message())

    def back_url(self, d, result=None):
        return reverse("precursors:discrepancy_detail", args=[d.pk])


class DiscrepancyAssignView(_DiscrepancyAction):
    def get_form(self, d):
        return AssignForm(self.request.POST, assignees=selectors.assignee_candidates(self.request.user, d))

    def call(self, user, d, data):
        services.assign_discrepancy(user=user, discrepancy=d, assignee=data["assignee"],
                                       deadline=data["deadline"], expected_version=data["version"])

    def ok_message(self):
        return _("已指派承办人并设定办理期限。")


class DiscrepancyWorkView(_DiscrepancyAction):
    form_class = WorkForm

    def call(self, user, d, data):
        services.record_discrepancy_work(user=user, discrepancy=d, notes=data["notes"],
                                            expected_version=data["version"])

    def ok_message(self):
        return _("已记录核查情况。")


class DiscrepancyCloseView(_DiscrepancyAction):
    form_class = CloseForm

    def call(self, user, d, data):
        services.close_discrepancy(user=user, discrepancy=d, resolution=data["resolution"], note=data["note"],
                                      case_number=data.get("case_number") or "", expected_version=data["version"])

    def ok_message(self):
        return _("问题已办结。")


class DiscrepancyReopenView(_DiscrepancyAction):
    form_class = ReopenForm

    def call(self, user, d, data):
        services.reopen_discrepancy(user=user, discrepancy=d, reason=data["reason"],
                                       expected_version=data["version"])

    def ok_message(self):
        return _("问题已重新打开。")


# -- supervision list ------------------------------------------------------------------------
class SupervisionView(_NavMixin, ScopedPermissionMixin, SingleTableMixin, FilterView):
    """A department's supervision list ("responsibility field"): the enterprises whose
    supervising departments include the user's unit (``?unit=<id>`` shows another
    department that supervises enterprises the user sees), with their open discrepancies
    and licence expiries."""

    model = Enterprise
    table_class = SupervisionTable
    filterset_class = EnterpriseFilterSet
    template_name = "precursors/supervision.html"
    paginate_by = 25
    tab = "supervision"

    def get_unit(self):
        if not hasattr(self, "_unit"):
            from jindu.precursors.filtersets import _supervising_units

            user = self.request.user
            raw = self.request.GET.get("unit", "")
            self._unit_choices = list(_supervising_units(self.request))
            self._unit = getattr(user, "unit", None)
            if raw.isdigit():
                self._unit = next((u for u in self._unit_choices if u.pk == int(raw)), None)
                if self._unit is None:
                    raise Http404
        return self._unit

    def get_queryset(self):
        return selectors.supervision_list(self.request.user, self.get_unit())

    def get_filterset_kwargs(self, filterset_class):
        kwargs = super().get_filterset_kwargs(filterset_class)
        if kwargs.get("data") is not None:
            data = kwargs["data"].copy()
            data.pop("unit", None)
            kwargs["data"] = data
        return kwargs

    def get_filterset(self, filterset_class):
        filterset = super().get_filterset(filterset_class)
        filterset.form.fields.pop("supervising_unit", None)
        filterset.filters.pop("supervising_unit", None)
        return filterset

    def get_table_kwargs(self):
        if not selectors.may_view_discrepancies(self.request.user):
            return {"exclude": ("open_discrepancies", "supervising_units")}
        return {}

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        user, unit = self.request.user, self.get_unit()
        ctx["unit"] = unit
        ctx["unit_choices"] = self._unit_choices
        ctx["own_unit"] = getattr(user, "unit", None)
        if unit is not None:
            mine = Enterprise.supervising_units.through.objects.filter(unit=unit).values("enterprise_id")
            ctx["expiring"] = list(selectors.licences_expiring(user, selectors.EXPIRY_HORIZON_DAYS).filter(
                enterprise__in=mine)[:20])
            if selectors.may_view_discrepancies(user):
                qs = selectors.discrepancy_queue(user, status=selectors.OPEN_STATUSES).filter(enterprise__in=mine)
                ctx["open_discrepancies"] = list(qs[:20])
                ctx["open_discrepancy_total"] = qs.count()
        return ctx


# -- exports ---------------------------------------------------------------------------------
class _ExportView(ExportView):
    """The generic export with a page's filters; unreadable filters send the user back to
    the page (which names them) instead of exporting anything."""

    def back_url(self, params) -> str:  # pragma: no cover - per export
        raise NotImplementedError

    def get(self, request, *args, **kwargs):
        if request.user.is_authenticated:
            params = request.GET.copy()
            params.pop("format", None)
            params.pop("page", None)
            try:
                self.exporter().get_queryset(request.user, params).exists()
            except BadRequest:
                messages.error(request, _("筛选条件有误，未导出。"))
                return redirect(self.back_url(params))
        return super().get(request, *args, **kwargs)


class EnterpriseExportView(_ExportView):
    exporter = exporters.EnterpriseExporter

    def back_url(self, params):
        return f"{reverse('precursors:enterprise_list')}?{params.urlencode()}"


class LedgerExportView(_ExportView):
    exporter = exporters.LedgerExporter

    def back_url(self, params):
        pk = params.pop("enterprise", [""])[-1]
        if pk.isdigit():
            return f"{reverse('precursors:enterprise_ledger', args=[int(pk)])}?{params.urlencode()}"
        return reverse("precursors:enterprise_list")


class LicenceExportView(_ExportView):
    exporter = exporters.LicenceExporter

    def back_url(self, params):
        return reverse("precursors:enterprise_list")
