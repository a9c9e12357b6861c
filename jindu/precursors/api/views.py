"""Precursors API, scoped like the pages (:class:`jindu.core.api.ScopedViewSetMixin`); every
write goes through :mod:`jindu.precursors.services` (one audit event each).

- ``precursor-chemicals``: the catalogue, read-only.
- ``precursor-enterprises``: list/retrieve/create/update (versioned); never deleted
  (close them with ``status``).
- ``precursor-licences``: list/retrieve/create with chemical lines; ``revoke`` action.
- ``ledger-entries``: list/retrieve; ``POST`` posts an entry (balance locked, no negative
  balance); entries are never changed or deleted (405): ``void`` reverses one.
- ``stock-balances``: read-only.
- ``stock-counts``: list/retrieve/create.
- ``precursor-discrepancies``: read-only with the workflow actions ``assign``, ``work``,
  ``close``, ``reopen`` (versioned).

An enterprise's own users (role ``enterprise``) see and write only their enterprise's
rows; a payload naming another enterprise is refused like a missing one. Discrepancies are
closed to them (403).
"""

from __future__ import annotations

import django_filters
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from jindu.core.api import AccessLogListMixin, Conflict, ScopedViewSetMixin
from jindu.core.models import StaleEditError
from jindu.core.scope import CHANGE, VIEW, has_model_permission
from jindu.core.timeutils import local_today
from jindu.org.api.views import _WithinFilterSet
from jindu.org.filtersets import StrictBooleanFilter
from jindu.precursors import selectors
from jindu.precursors.api.serializers import (
    AssignSerializer,
    ChemicalSerializer,
    CloseSerializer,
    DiscrepancySerializer,
    EnterpriseSerializer,
    LedgerEntryCreateSerializer,
    LedgerEntrySerializer,
    LicenceCreateSerializer,
    LicenceSerializer,
    ReasonSerializer,
    ReopenSerializer,
    RevokeSerializer,
    StockBalanceSerializer,
    StockCountCreateSerializer,
    StockCountSerializer,
    WorkSerializer,
)
from jindu.precursors.choices import (
    ChemicalCategory,
    Direction,
    DiscrepancySeverity,
    DiscrepancyStatus,
    EnterpriseKind,
    EnterpriseStatus,
    EntrySource,
    LicenceKind,
    LicenceStatus,
    RiskLevel,
)
from jindu.precursors.models import (
    Chemical,
    Discrepancy,
    Enterprise,
    LedgerEntry,
    Licence,
    StockBalance,
    StockCount,
)


def _services():
    from jindu.precursors import services

    return services


class _ServiceErrors:
    def handle_exception(self, exc):
        if isinstance(exc, StaleEditError):
            exc = Conflict(_("该记录已被他人修改（您读取的版本 %(expected)s，当前版本 %(actual)s），请刷新后重试。")
                           % {"expected": exc.expected, "actual": exc.actual})
        return super().handle_exception(exc)


# -- chemicals -------------------------------------------------------------------------------
class ChemicalViewSet(ScopedViewSetMixin, viewsets.ReadOnlyModelViewSet):
    """易制毒化学品品种目录（《易制毒化学品管理条例》附表，含历次增补），只读。"""

    queryset = Chemical.objects.all()
    serializer_class = ChemicalSerializer
    filterset_fields = ["category", "is_active", "is_pharmaceutical"]
    search_fields = ["name_zh", "name_en", "cas_number"]
    ordering_fields = ["category", "name_zh", "id"]


# -- enterprises -----------------------------------------------------------------------------
class EnterpriseFilterSet(_WithinFilterSet):
    kind = django_filters.MultipleChoiceFilter(choices=EnterpriseKind.choices)
    status = django_filters.ChoiceFilter(choices=EnterpriseStatus.choices)
    risk_level = django_filters.ChoiceFilter(choices=RiskLevel.choices)
    division = django_filters.NumberFilter(field_name="division_id")
    supervising_unit = django_filters.NumberFilter(method="filter_unit")
    credit_code = django_filters.CharFilter(field_name="credit_code")

    class Meta:
        model = Enterprise
        fields = ["kind", "status", "risk_level", "division", "supervising_unit", "credit_code", "within"]

    def filter_unit(self, queryset, name, value):
        mine = Enterprise.supervising_units.through.objects.filter(unit_id=value).values("enterprise_id")
        return queryset.filter(pk__in=mine)


class EnterpriseViewSet(_ServiceErrors, AccessLogListMixin, ScopedViewSetMixin, viewsets.ModelViewSet):
    """易制毒化学品企业：按管辖范围过滤；企业用户只能看到本企业。修改须带版本号；
    企业档案不能删除（停业或注销请修改经营状态）。列表与详情含联系人信息，记录访问日志。"""

    queryset = Enterprise.objects.select_related("division").prefetch_related("supervising_units")
    serializer_class = EnterpriseSerializer
    filterset_class = EnterpriseFilterSet
    search_fields = ["name", "credit_code", "legacy_code"]
    ordering_fields = ["name", "kind", "division__code", "risk_level", "updated_at"]

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        data.pop("version", None)
        serializer.instance = _services().create_enterprise(user=self.request.user, data=data)

    def perform_update(self, serializer):
        data = dict(serializer.validated_data)
        version = data.pop("version", None)
        serializer.instance, _changed = _services().update_enterprise(
            user=self.request.user, enterprise=serializer.instance, data=data, expected_version=version)

    def destroy(self, request, *args, **kwargs):
        self.get_object()  # out of scope: 404, like a missing row
        raise Conflict(_("企业档案不能删除；停业或注销请修改经营状态。"))


# -- licences --------------------------------------------------------------------------------
class LicenceFilterSet(django_filters.FilterSet):
    enterprise = django_filters.NumberFilter(field_name="enterprise_id")
    kind = django_filters.MultipleChoiceFilter(choices=LicenceKind.choices)
    status = django_filters.ChoiceFilter(choices=LicenceStatus.choices)
    expiring_within = django_filters.NumberFilter(method="filter_expiring", min_value=0,
                                                  label=_("多少日内到期（含今日）"))

    class Meta:
        model = Licence
        fields = ["enterprise", "kind", "status", "expiring_within"]

    def filter_expiring(self, queryset, name, value):
        from datetime import timedelta

        today = local_today()
        return queryset.filter(status=LicenceStatus.VALID, valid_until__gte=today,
                               valid_until__lte=today + timedelta(days=int(value)))


class LicenceViewSet(_ServiceErrors, ScopedViewSetMixin, mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """许可与备案证明（生产、经营、购买、运输）。``POST`` 登记一份证照及其品种和限量；
    ``revoke`` 标记吊销/注销。``expiring_within=30`` 列出30日内到期的有效证照。"""

    queryset = Licence.objects.prefetch_related("lines__chemical")
    serializer_class = LicenceSerializer
    filterset_class = LicenceFilterSet
    search_fields = ["number", "number_raw", "issuer"]
    ordering_fields = ["valid_until", "valid_from", "kind", "id"]
    scope_actions = {"revoke": CHANGE}

    @extend_schema(request=LicenceCreateSerializer, responses={201: LicenceSerializer})
    def create(self, request, *args, **kwargs):
        body = LicenceCreateSerializer(data=request.data, context=self.get_serializer_context())
        body.is_valid(raise_exception=True)
        d = dict(body.validated_data)
        enterprise = d.pop("enterprise")
        lines = [(line["chemical"], line.get("quantity_limit_kg")) for line in d.pop("lines")]
        d["number_raw"] = d["number"]
        licence = _services().create_licence(user=request.user, enterprise=enterprise, data=d, lines=lines)
        row = Licence.objects.restrict(request.user, VIEW).prefetch_related("lines__chemical").get(pk=licence.pk)
        return Response(LicenceSerializer(row).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=RevokeSerializer, responses={200: LicenceSerializer})
    @action(detail=True, methods=["post"])
    def revoke(self, request, pk=None):
        """标记吊销/注销：``revoked_on`` 为决定书载明的日期（可早于今天，不得晚于今天或早于有效期起），``reason`` 为原因。"""
        licence = self.get_object()
        body = RevokeSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        row = _services().revoke_licence(user=request.user, licence=licence,
                                         revoked_on=body.validated_data["revoked_on"],
                                         reason=body.validated_data["reason"])
        return Response(LicenceSerializer(row).data)


# -- ledger ----------------------------------------------------------------------------------
class LedgerEntryFilterSet(django_filters.FilterSet):
    """``date_from``/``date_to``: inclusive local dates of ``occurred_on``."""

    enterprise = django_filters.NumberFilter(field_name="enterprise_id")
    chemical = django_filters.NumberFilter(field_name="chemical_id")
    direction = django_filters.MultipleChoiceFilter(choices=Direction.choices)
    counterparty = django_filters.NumberFilter(field_name="counterparty_id")
    date_from = django_filters.DateFilter(field_name="occurred_on", lookup_expr="gte")
    date_to = django_filters.DateFilter(field_name="occurred_on", lookup_expr="lte")
    voided = StrictBooleanFilter(method="filter_voided")
    source = django_filters.ChoiceFilter(choices=EntrySource.choices)

    class Meta:
        model = LedgerEntry
        fields = ["enterprise", "chemical", "direction", "counterparty", "date_from", "date_to", "voided", "source"]

    def filter_voided(self, queryset, name, value):
        return queryset.filter(voided_at__isnull=not value)


class LedgerEntryViewSet(_ServiceErrors, ScopedViewSetMixin, mixins.CreateModelMixin,
                         viewsets.ReadOnlyModelViewSet):
    """出入库台账。``POST`` 登记一笔（按录入单位换算为千克；出库不得使结存为负数）；
    台账不能修改或删除（405），登记有误的用 ``void`` 作废（冲回结存）：监管部门可作废辖区内的台账；
    企业用户可在报告时限内（第一类5日，第二、三类30日）作废本企业登记有误的台账，正被核查的除外。"""

    queryset = LedgerEntry.objects.select_related("chemical")
    serializer_class = LedgerEntrySerializer
    filterset_class = LedgerEntryFilterSet
    search_fields = ["document_number", "permit_number", "counterparty_name"]
    ordering_fields = ["occurred_on", "recorded_at", "id"]

    @property
    def scope_actions(self):
        # ``void``: supervisors under ``change``; an enterprise's own users under ``void_own``
        # (services.void_entry decides whether their void is still allowed).
        user = getattr(getattr(self, "request", None), "user", None)
        if user is not None and not has_model_permission(user, LedgerEntry, CHANGE):
            return {"void": _services().VOID_OWN}
        return {"void": CHANGE}

    def get_queryset(self):
        if getattr(self, "action", None) == "void":
            return _services().voidable_entries(self.request.user).select_related("chemical")
        return super().get_queryset()

    @extend_schema(request=LedgerEntryCreateSerializer, responses={201: LedgerEntrySerializer})
    def create(self, request, *args, **kwargs):
        body = LedgerEntryCreateSerializer(data=request.data, context=self.get_serializer_context())
        body.is_valid(raise_exception=True)
        d = dict(body.validated_data)
        enterprise = d.pop("enterprise")
        entry = _services().post_entry(user=request.user, enterprise=enterprise, data=d, source=EntrySource.API)
        row = LedgerEntry.objects.restrict(request.user, VIEW).select_related("chemical").get(pk=entry.pk)
        return Response(LedgerEntrySerializer(row).data, status=status.HTTP_201_CREATED)

    def _append_only(self, request):
        self.get_object()  # out of scope: 404, like a missing row
        raise exceptions.MethodNotAllowed(request.method,
                                          detail=_("台账记录不能修改或删除；登记有误的请作废（void）后重新登记。"))

    @extend_schema(exclude=True)
    def update(self, request, *args, **kwargs):
        self._append_only(request)

    @extend_schema(exclude=True)
    def partial_update(self, request, *args, **kwargs):
        self._append_only(request)

    @extend_schema(exclude=True)
    def destroy(self, request, *args, **kwargs):
        self._append_only(request)

    @extend_schema(request=ReasonSerializer, responses={200: LedgerEntrySerializer})
    @action(detail=True, methods=["post"])
    def void(self, request, pk=None):
        entry = self.get_object()
        body = ReasonSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        row = _services().void_entry(user=request.user, entry=entry, reason=body.validated_data["reason"])
        return Response(LedgerEntrySerializer(row).data)


class StockBalanceViewSet(ScopedViewSetMixin, viewsets.ReadOnlyModelViewSet):
    """库存结存（千克），每个企业每个品种一行，只读（由台账登记维护）。"""

    queryset = StockBalance.objects.select_related("chemical")
    serializer_class = StockBalanceSerializer
    filterset_fields = ["enterprise", "chemical"]
    ordering_fields = ["enterprise", "chemical", "quantity_kg", "updated_at"]


class StockCountViewSet(_ServiceErrors, ScopedViewSetMixin, mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """库存盘点。``POST`` 登记一次盘点（账面结存按台账计算至盘点日）。"""

    queryset = StockCount.objects.all()
    serializer_class = StockCountSerializer
    filterset_fields = ["enterprise", "chemical", "counted_on"]
    ordering_fields = ["counted_on", "id"]

    @extend_schema(request=StockCountCreateSerializer, responses={201: StockCountSerializer})
    def create(self, request, *args, **kwargs):
        body = StockCountCreateSerializer(data=request.data, context=self.get_serializer_context())
        body.is_valid(raise_exception=True)
        d = body.validated_data
        count = _services().record_stock_count(
            user=request.user, enterprise=d["enterprise"], chemical=d["chemical"], counted_on=d["counted_on"],
            quantity_kg=d["quantity_kg"], counted_by=d.get("counted_by", ""), note=d.get("note", ""))
        row = StockCount.objects.restrict(request.user, VIEW).get(pk=count.pk)
        return Response(StockCountSerializer(row).data, status=status.HTTP_201_CREATED)


# -- discrepancies ---------------------------------------------------------------------------
class DiscrepancyFilterSet(_WithinFilterSet):
    within_path = "enterprise__division"
    rule = django_filters.CharFilter()
    status = django_filters.MultipleChoiceFilter(choices=DiscrepancyStatus.choices)
    severity = django_filters.ChoiceFilter(choices=DiscrepancySeverity.choices)
    enterprise = django_filters.NumberFilter(field_name="enterprise_id")
    chemical_category = django_filters.ChoiceFilter(field_name="chemical__category", choices=ChemicalCategory.choices)
    overdue = StrictBooleanFilter(method="filter_overdue")

    class Meta:
        model = Discrepancy
        fields = ["rule", "status", "severity", "enterprise", "chemical_category", "overdue", "within"]

    def filter_overdue(self, queryset, name, value):
        from django.db.models import Q

        cond = Q(status__in=selectors.OPEN_STATUSES, deadline__lt=local_today())
        return queryset.filter(cond) if value else queryset.exclude(cond)


class DiscrepancyViewSet(_ServiceErrors, ScopedViewSetMixin, viewsets.ReadOnlyModelViewSet):
    """闭环核对问题（企业用户无权查看）。动作：``assign`` 指派承办人和期限、``work`` 记录核查情况、
    ``close`` 办结（说明合理、更正台账、责令整改、移交立案）、``reopen`` 重新打开；均须带版本号。
    ``overdue=true``：办理期限已过（北京时间，期限当天全天有效）。"""

    queryset = Discrepancy.objects.prefetch_related("entries", "licences")
    serializer_class = DiscrepancySerializer
    filterset_class = DiscrepancyFilterSet
    search_fields = ["summary"]
    ordering_fields = ["deadline", "detected_at", "occurred_on", "id"]
    scope_actions = {"assign": CHANGE, "work": CHANGE, "close": CHANGE, "reopen": CHANGE}

    def _done(self, row):
        row = Discrepancy.objects.restrict(self.request.user, VIEW).prefetch_related("entries", "licences").get(
            pk=row.pk)
        return Response(DiscrepancySerializer(row).data)

    @extend_schema(request=AssignSerializer, responses={200: DiscrepancySerializer})
    @action(detail=True, methods=["post"])
    def assign(self, request, pk=None):
        d = self.get_object()
        body = AssignSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        v = body.validated_data
        assignee = selectors.assignee_candidates(request.user, d).filter(pk=v["assignee"]).first()
        if assignee is None:
            raise exceptions.ValidationError({"assignee": [_("承办人不存在，或无权办理该问题。")]})
        return self._done(_services().assign_discrepancy(user=request.user, discrepancy=d, assignee=assignee,
                                                         deadline=v["deadline"], expected_version=v["version"]))

    @extend_schema(request=WorkSerializer, responses={200: DiscrepancySerializer})
    @action(detail=True, methods=["post"])
    def work(self, request, pk=None):
        d = self.get_object()
        body = WorkSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        v = body.validated_data
        return self._done(_services().record_discrepancy_work(user=request.user, discrepancy=d, notes=v["notes"],
                                                              expected_version=v["version"]))

    @extend_schema(request=CloseSerializer, responses={200: DiscrepancySerializer})
    @action(detail=True, methods=["post"])
    def close(self, request, pk=None):
        d = self.get_object()
        body = CloseSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        v = body.validated_data
        return self._done(_services().close_discrepancy(
            user=request.user, discrepancy=d, resolution=v["resolution"], note=v["note"],
            case_number=v.get("case_number", ""), expected_version=v["version"]))

    @extend_schema(request=ReopenSerializer, responses={200: DiscrepancySerializer})
    @action(detail=True, methods=["post"])
    def reopen(self, request, pk=None):
        d = self.get_object()
        body = ReopenSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        v = body.validated_data
        return self._done(_services().reopen_discrepancy(user=request.user, discrepancy=d, reason=v["reason"],
                                                         expected_version=v["version"]))


ROUTES: list = [
    ("precursor-chemicals", ChemicalViewSet, "precursorchemical"),
    ("precursor-enterprises", EnterpriseViewSet, "precursorenterprise"),
    ("precursor-licences", LicenceViewSet, "precursorlicence"),
    ("ledger-entries", LedgerEntryViewSet, "ledgerentry"),
    ("stock-balances", StockBalanceViewSet, "stockbalance"),
    ("stock-counts", StockCountViewSet, "stockcount"),
    ("precursor-discrepancies", DiscrepancyViewSet, "discrepancy"),
]
