"""Exports of the precursors registry as xlsx/csv (:mod:`jindu.core.exports`): enterprises
(the list's filters), licences and filings (one row per licence × chemical) and stock
ledgers (an enterprise's ledger with the ledger page's filters).

The columns carry the import templates' headers (:mod:`jindu.precursors.importers`), so an
exported file can be edited and imported again; columns the importer does not read (the
enterprise's full name beside its code, the number and issuer as printed, kilograms and
balances) are ignored on import with a warning. Codes and numbers are text cells;
quantities are numbers (Decimal, never float). Enterprise exports name contact persons:
each writes an access-log row (``personal_data``).
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import BadRequest
from django.db.models import Prefetch
from django.utils.translation import gettext as _g
from django.utils.translation import gettext_lazy as _

from jindu.core.exports import CODE, DATE, DATETIME, NUMBER, ExportColumn, Exporter
from jindu.org.models import Unit
from jindu.precursors.choices import LicenceKind, LicenceStatus
from jindu.precursors.models import Enterprise, LedgerEntry, LicenceChemical


def _param(params: Any, name: str) -> str:
    if params is None:
        return ""
    value = params.get(name)
    return "" if value is None else str(value).strip()


def _enterprise_ref(enterprise: Enterprise) -> str:
    """What the importers' 企业 column reads: the credit code, else the old code, else the name."""
    return enterprise.credit_code or enterprise.legacy_code or enterprise.name


class EnterpriseExporter(Exporter):
    """Enterprises the user may see, with the enterprise list's filters (``q``, ``kind``,
    ``risk_level``, ``status``, ``district``, ``town``, ``supervising_unit``)."""

    name = "precursors.enterprise"
    label = _("易制毒化学品企业")
    model = Enterprise
    select_related = ("division",)
    personal_data = True  # 联系人, 联系电话
    columns = [
        ExportColumn(_("企业名称"), "name"),
        ExportColumn(_("统一社会信用代码"), "credit_code", kind=CODE),
        ExportColumn(_("组织机构代码/注册号"), "legacy_code", kind=CODE),
        ExportColumn(_("企业类型"), "get_kind_display"),
        ExportColumn(_("所属区划"), "division.code", kind=CODE),
        ExportColumn(_("区划名称"), "division.name"),
        ExportColumn(_("地址"), "address"),
        ExportColumn(_("监管部门"), lambda e: "、".join(u.name for u in e.supervising_units.all())),
        ExportColumn(_("联系人"), "contact_name"),
        ExportColumn(_("联系电话"), "contact_phone", kind=CODE),
        ExportColumn(_("风险等级"), "get_risk_level_display"),
        ExportColumn(_("经营状态"), "get_status_display"),
        ExportColumn(_("备注"), "note"),
    ]

    def get_queryset(self, user, params=None):
        """The enterprise list's rows for ``params``. Raises ``BadRequest`` (Chinese) when
        a filter value cannot be read: a dropped filter would widen the export."""
        from jindu.precursors.filtersets import enterprise_filterset

        filterset = enterprise_filterset(user, params, super().get_queryset(user, params))
        if not filterset.is_valid():
            raise BadRequest(_g("筛选条件有误，未导出：%(errors)s") % {"errors": filterset.error_text()})
        units = Prefetch("supervising_units", queryset=Unit.objects.order_by("name"))
        return filterset.qs.prefetch_related(units).order_by("division__code", "name", "pk")


class LicenceExporter(Exporter):
    """Licences and filings the user may see, one row per licence × chemical (the licence
    import's layout). ``params``: ``enterprise`` (id), ``kind`` and ``status`` (values of
    :class:`LicenceKind` / :class:`LicenceStatus`)."""

    name = "precursors.licence"
    label = _("易制毒化学品许可与备案")
    model = LicenceChemical
    select_related = ("licence", "licence__enterprise", "chemical")
    columns = [
        ExportColumn(_("企业"), lambda line: _enterprise_ref(line.licence.enterprise), kind=CODE),
        ExportColumn(_("企业全称"), "licence.enterprise.name"),
        ExportColumn(_("证照类型"), "licence.get_kind_display"),
        ExportColumn(_("证照编号"), "licence.number", kind=CODE),
        ExportColumn(_("证照编号（原文）"), "licence.number_raw", kind=CODE),
        ExportColumn(_("发证机关"), "licence.issuer"),
        ExportColumn(_("发证机关（原文）"), "licence.issuer_raw"),
        ExportColumn(_("发证日期"), "licence.issued_on", kind=DATE),
        ExportColumn(_("有效期起"), "licence.valid_from", kind=DATE),
        ExportColumn(_("有效期至"), "licence.valid_until", kind=DATE),
        ExportColumn(_("一次有效"), "licence.one_trip"),
        ExportColumn(_("对方信用代码"), "licence.counterparty_credit_code", kind=CODE),
        ExportColumn(_("对方单位"), "licence.counterparty_name"),
        ExportColumn(_("品种"), "chemical.name_zh"),
        ExportColumn(_("类别"), "chemical.get_category_display"),
        ExportColumn(_("限量（千克）"), "quantity_limit_kg", kind=NUMBER),
        ExportColumn(_("状态"), "licence.get_status_display"),
        ExportColumn(_("吊销/注销日期"), "licence.revoked_on", kind=DATE),
        ExportColumn(_("备注"), "licence.note"),
    ]

    def get_queryset(self, user, params=None):
        """Raises ``BadRequest`` (Chinese) for an unreadable filter value."""
        qs = super().get_queryset(user, params)
        enterprise = _param(params, "enterprise")
        if enterprise:
            if not enterprise.isdigit():
                raise BadRequest(_g("筛选条件有误，未导出：企业编号“%(v)s”无效") % {"v": enterprise})
            qs = qs.filter(licence__enterprise_id=int(enterprise))
        for name, choices, label in (("kind", LicenceKind, _g("证照类型")), ("status", LicenceStatus, _g("状态"))):
            value = _param(params, name)
            if value:
                if value not in choices.values:
                    raise BadRequest(_g("筛选条件有误，未导出：%(label)s“%(v)s”无效") % {"label": label, "v": value})
                qs = qs.filter(**{f"licence__{name}": value})
        return qs.order_by("licence__enterprise__name", "licence__kind", "licence__number", "chemical__category",
                           "chemical_id", "pk")


class LedgerExporter(Exporter):
    """Stock-ledger entries the user may see (an enterprise account: its own), with the
    ledger page's filters (``chemical``, ``direction``, ``date_from``, ``date_to``,
    ``voided``) and ``enterprise`` (id); oldest first, as a ledger is kept."""

    name = "precursors.ledger"
    label = _("易制毒化学品出入库台账")
    model = LedgerEntry
    select_related = ("enterprise", "chemical", "counterparty")
    columns = [
        ExportColumn(_("企业"), lambda e: _enterprise_ref(e.enterprise), kind=CODE),
        ExportColumn(_("企业全称"), "enterprise.name"),
        ExportColumn(_("发生日期"), "occurred_on", kind=DATE),
        ExportColumn(_("品种"), "chemical.name_zh"),
        ExportColumn(_("品种（原文）"), "chemical_raw"),
        ExportColumn(_("类别"), "chemical.get_category_display"),
        ExportColumn(_("方向"), "get_direction_display"),
        ExportColumn(_("数量"), "quantity_entered", kind=NUMBER),
        ExportColumn(_("单位"), "get_unit_entered_display"),
        ExportColumn(_("密度（千克/升）"), "density_kg_per_l", kind=NUMBER),
        ExportColumn(_("每件净重（千克）"), "piece_mass_kg", kind=NUMBER),
        ExportColumn(_("数量（千克）"), "quantity_kg", kind=NUMBER),
        ExportColumn(_("结存（千克）"), "balance_after_kg", kind=NUMBER),
        ExportColumn(_("对方信用代码"), "counterparty_credit_code", kind=CODE),
        ExportColumn(_("对方单位"), lambda e: e.counterparty_name or (e.counterparty.name if e.counterparty else "")),
        ExportColumn(_("单据编号"), "document_number", kind=CODE),
        ExportColumn(_("许可/备案编号"), "permit_number", kind=CODE),
        ExportColumn(_("许可/备案编号（原文）"), "permit_number_raw", kind=CODE),
        ExportColumn(_("运输许可/备案编号"), "transport_permit_number", kind=CODE),
        ExportColumn(_("用途"), "purpose"),
        ExportColumn(_("失效日期"), "expires_on", kind=DATE),
        ExportColumn(_("报告公安日期"), "reported_on", kind=DATE),
        ExportColumn(_("来源"), "get_source_display"),
        ExportColumn(_("登记时间"), "recorded_at", kind=DATETIME),
        ExportColumn(_("作废时间"), "voided_at", kind=DATETIME),
        ExportColumn(_("作废原因"), "void_reason"),
    ]

    def get_queryset(self, user, params=None):
        """Raises ``BadRequest`` (Chinese) for an unreadable filter value."""
        from types import SimpleNamespace

        from jindu.precursors.filtersets import LedgerFilterSet

        qs = super().get_queryset(user, params)
        enterprise = _param(params, "enterprise")
        if enterprise:
            if not enterprise.isdigit():
                raise BadRequest(_g("筛选条件有误，未导出：企业编号“%(v)s”无效") % {"v": enterprise})
            qs = qs.filter(enterprise_id=int(enterprise))
        filterset = LedgerFilterSet(params if params is not None else {}, queryset=qs,
                                    request=SimpleNamespace(user=user))
        if not filterset.is_valid():
            raise BadRequest(_g("筛选条件有误，未导出：%(errors)s") % {"errors": filterset.error_text()})
        return filterset.qs.order_by("enterprise__name", "enterprise_id", "occurred_on", "id")
