"""Precursor chemicals: the national catalogue, the enterprises that produce, trade, use,
transport or store them, their licences, filings and permits, their stock ledgers with
balances and stock counts, destructions, and the discrepancies the closed-loop
reconciliation raises.

Legal basis throughout: 《易制毒化学品管理条例》(国务院令第445号, 2018 revision; "the
Regulation"); who licenses what is tabulated in ``reference/regulatory/legal_rules.md`` §6.
Writes go through :mod:`jindu.precursors.services`; the reconciliation rules are in
:mod:`jindu.precursors.reconciliation`.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from jindu.core.fields import PhoneNumberField
from jindu.core.models import VersionedModel
from jindu.core.scope import ScopedManager
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
    QuantityUnit,
    Resolution,
    RiskLevel,
)

KG = Decimal("0.001")  # quantities are kept to the gram


class Chemical(models.Model):
    """One entry of the Regulation's annex (易制毒化学品的分类和品种目录) as amended since 2005,
    e.g. 麻黄素（麻黄碱）(Category 1, pharmaceutical), 醋酸酐 (Category 2), 硫酸 (Category 3).

    Shipped from ``data/precursors.csv`` and kept in step by :mod:`jindu.precursors.loaders`
    after every migration and by ``manage.py load_precursors``: a list change is a new data
    file; changed rows are updated with history, rows that left the list are marked
    inactive, never deleted. ``is_pharmaceutical`` marks the Category 1 items the annex
    stars (licensed by drug regulators, art. 7/9/14). ``typical_density_kg_per_l`` is the
    density offered when a liquid is entered in litres (source in ``density_source``).
    """

    category = models.PositiveSmallIntegerField(_("类别"), choices=ChemicalCategory.choices)
    name_zh = models.CharField(_("品种名称"), max_length=120, unique=True)
    name_en = models.CharField(_("英文名称"), max_length=300, blank=True)
    cas_number = models.CharField(_("CAS号"), max_length=200, blank=True)
    un_1988_table = models.CharField(_("1988年公约表"), max_length=120, blank=True)
    added_on = models.DateField(_("列管日期"), null=True, blank=True)
    added_on_text = models.CharField(_("列管日期（原文）"), max_length=200, blank=True)
    is_pharmaceutical = models.BooleanField(_("药品类"), default=False)
    typical_density_kg_per_l = models.DecimalField(
        _("常用密度（千克/升）"), max_digits=7, decimal_places=4, null=True, blank=True
    )
    density_source = models.CharField(_("密度来源"), max_length=200, blank=True)
    notes = models.TextField(_("备注"), blank=True)
    source_doc = models.TextField(_("来源文件"), blank=True)
    source_ref = models.TextField(_("来源出处"), blank=True)
    confidence = models.CharField(_("可信度"), max_length=200, blank=True)
    is_active = models.BooleanField(_("现行有效"), default=True)

    history = HistoricalRecords()
    scope_national = True

    objects = ScopedManager()

    class Meta:
        verbose_name = _("易制毒化学品品种")
        verbose_name_plural = _("易制毒化学品品种")
        ordering = ["category", "id"]

    def __str__(self) -> str:
        return self.name_zh


class Enterprise(VersionedModel):
    """An enterprise or unit that produces, trades, uses, transports or stores precursor
    chemicals (the seed's 409 enterprises and 5 transport enterprises).

    ``credit_code`` is the 18-character unified social credit code (GB 32100-2015, checked
    with ``stdnum.cn.uscc``); older records may carry only ``legacy_code`` (a 9-character
    organisation code, GB 11714, or a 15-digit registration number). ``division`` (town or
    village) decides who may see it. ``supervising_units`` are the departments whose
    supervision list ("responsibility field") it is on: police, emergency management,
    drug and market regulators. ``account_users`` are the enterprise's own users (role
    ``enterprise``): they see only this enterprise's records.
    """

    name = models.CharField(_("企业名称"), max_length=200)
    credit_code = models.CharField(_("统一社会信用代码"), max_length=18, blank=True)
    legacy_code = models.CharField(_("组织机构代码/注册号"), max_length=20, blank=True)
    kind = models.CharField(_("企业类型"), max_length=16, choices=EnterpriseKind.choices)
    division = models.ForeignKey("geo.Division", verbose_name=_("所属区划"), on_delete=models.PROTECT,
                                 related_name="precursor_enterprises")
    address = models.CharField(_("地址"), max_length=255, blank=True)
    supervising_units = models.ManyToManyField("org.Unit", verbose_name=_("监管部门"), blank=True,
                                               related_name="supervised_precursor_enterprises")
    contact_name = models.CharField(_("联系人"), max_length=50, blank=True)
    contact_phone = PhoneNumberField(_("联系电话"), blank=True)
    risk_level = models.CharField(_("风险等级"), max_length=8, choices=RiskLevel.choices, default=RiskLevel.LOW)
    status = models.CharField(_("经营状态"), max_length=16, choices=EnterpriseStatus.choices,
                              default=EnterpriseStatus.OPERATING)
    account_users = models.ManyToManyField(settings.AUTH_USER_MODEL, verbose_name=_("企业账号"), blank=True,
                                           related_name="precursor_enterprises")
    note = models.TextField(_("备注"), blank=True)
    is_demo = models.BooleanField(_("演示数据"), default=False, editable=False)

    history = HistoricalRecords()
    scope_division_path = "division"
    scope_assignee_path = "account_users"
    person_name_fields = ("contact_name",)

    class Meta:
        verbose_name = _("易制毒化学品企业")
        verbose_name_plural = _("易制毒化学品企业")
        ordering = ["division__code", "name"]
        constraints = [
            models.UniqueConstraint(fields=["credit_code"], condition=~Q(credit_code=""),
                                    name="precursors_enterprise_unique_credit_code"),
            models.UniqueConstraint(fields=["legacy_code"], condition=~Q(legacy_code=""),
                                    name="precursors_enterprise_unique_legacy_code"),
        ]
        indexes = [models.Index(fields=["division", "name", "id"]), models.Index(fields=["kind", "division"])]

    def __str__(self) -> str:
        return self.name


class Licence(VersionedModel):
    """A licence, filing certificate or permit held by an enterprise: production / trade
    licences and filings (arts. 7–13), Category 1 purchase licences and Category 2/3
    purchase filings (arts. 14–17), transport licences and filings, one-trip or for a
    period (arts. 20–22).

    ``number`` is normalised (brackets folded to 〔〕, full-width to half-width);
    ``number_raw`` keeps what was written. ``issuer`` is the current authority
    (应急管理局 for the pre-2018 安全生产监督管理局), ``issuer_raw`` the printed name.
    ``chemicals`` lists what it covers, with the quantity limit where one is set
    (:class:`LicenceChemical`). ``counterparty_*`` names the seller (purchase) or the
    consignee (transport) where the document names one. ``valid_until`` is inclusive.
    ``revoked_on`` is the local date of the decision that revoked or cancelled it (吊销/注销
    日期, as written on the decision, which may reach Jindu later); set exactly when
    ``status`` is revoked. From that day on it covers nothing.
    """

    enterprise = models.ForeignKey(Enterprise, verbose_name=_("企业"), on_delete=models.PROTECT,
                                   related_name="licences")
    kind = models.CharField(_("证照类型"), max_length=24, choices=LicenceKind.choices)
    number = models.CharField(_("证照编号"), max_length=80)
    number_raw = models.CharField(_("证照编号（原文）"), max_length=120, blank=True)
    issuer = models.CharField(_("发证机关"), max_length=120, blank=True)
    issuer_raw = models.CharField(_("发证机关（原文）"), max_length=120, blank=True)
    issued_on = models.DateField(_("发证日期"), null=True, blank=True)
    valid_from = models.DateField(_("有效期起"))
    valid_until = models.DateField(_("有效期至"))
    one_trip = models.BooleanField(_("一次有效"), default=False)
    counterparty_credit_code = models.CharField(_("对方信用代码"), max_length=20, blank=True)
    counterparty_name = models.CharField(_("对方单位"), max_length=200, blank=True)
    status = models.CharField(_("状态"), max_length=16, choices=LicenceStatus.choices, default=LicenceStatus.VALID)
    revoked_on = models.DateField(_("吊销/注销日期"), null=True, blank=True)
    note = models.TextField(_("备注"), blank=True)

    history = HistoricalRecords()
    scope_division_path = "enterprise__division"
    scope_assignee_path = "enterprise__account_users"

    class Meta:
        verbose_name = _("许可与备案")
        verbose_name_plural = _("许可与备案")
        ordering = ["enterprise", "kind", "-valid_until"]
        constraints = [
            models.UniqueConstraint(fields=["kind", "number"], name="precursors_licence_unique_number"),
            models.CheckConstraint(condition=Q(valid_until__gte=models.F("valid_from")),
                                   name="precursors_licence_valid_range"),
            # Revoked exactly when a revocation date is on file.
            models.CheckConstraint(condition=(Q(status=LicenceStatus.REVOKED, revoked_on__isnull=False)
                                              | (~Q(status=LicenceStatus.REVOKED) & Q(revoked_on__isnull=True))),
                                   name="precursors_licence_revoked_on_iff_revoked"),
        ]
        indexes = [models.Index(fields=["enterprise", "kind", "valid_until"]), models.Index(fields=["valid_until"]),
                   # The incremental reconciliation's "licences changed since the last run".
                   models.Index(fields=["updated_at"], name="precursors_licence_changed")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.number}"


class LicenceChemical(models.Model):
    """One chemical a licence covers, with its quantity limit in kilograms where the
    document sets one (purchase licences and one-trip transport permits usually do).
    ``chemical_raw`` keeps the name as an imported document wrote it (e.g. 鹽酸, 乙酸酐)."""

    licence = models.ForeignKey(Licence, verbose_name=_("证照"), on_delete=models.CASCADE, related_name="lines")
    chemical = models.ForeignKey(Chemical, verbose_name=_("品种"), on_delete=models.PROTECT, related_name="+")
    chemical_raw = models.CharField(_("品种（原文）"), max_length=120, blank=True)
    quantity_limit_kg = models.DecimalField(_("限量（千克）"), max_digits=16, decimal_places=3, null=True,
                                            blank=True, validators=[MinValueValidator(KG)])

    history = HistoricalRecords()
    scope_division_path = "licence__enterprise__division"
    scope_assignee_path = "licence__enterprise__account_users"
    objects = ScopedManager()

    class Meta:
        verbose_name = _("证照品种")
        verbose_name_plural = _("证照品种")
        constraints = [models.UniqueConstraint(fields=["licence", "chemical"], name="precursors_licence_line_unique")]

    def __str__(self) -> str:
        return f"{self.licence} · {self.chemical}"


class LicenceCover(models.Model):
    """What each licence line covers, kept for the reconciliation: one row per licence ×
    chemical × activity its kind covers for that chemical's category
    (:data:`jindu.precursors.rules.LICENCE_KIND_RULES`), with the validity cut at the
    revocation (a revoked licence covers through the day before ``revoked_on``).

    Derived, never edited: :mod:`jindu.precursors.reconciliation.cover` keeps it in step
    with every saved licence, line and catalogue chemical (signals, in the same
    transaction); loads that bypass the ORM are followed by ``manage.py
    rebuild_licence_cover`` (``--check`` compares). A reconciliation reads it as it is,
    instead of flattening every licence again on each run."""

    activity = models.CharField(max_length=16)
    licence = models.ForeignKey(Licence, on_delete=models.CASCADE, related_name="+", db_index=False)
    enterprise = models.ForeignKey(Enterprise, on_delete=models.CASCADE, related_name="+", db_index=False)
    chemical = models.ForeignKey(Chemical, on_delete=models.CASCADE, related_name="+", db_index=False)
    number = models.CharField(max_length=80)
    valid_from = models.DateField()
    valid_until = models.DateField()
    limit_kg = models.DecimalField(max_digits=16, decimal_places=3, null=True)

    class Meta:
        verbose_name = _("证照覆盖范围")
        verbose_name_plural = _("证照覆盖范围")
        constraints = [models.UniqueConstraint(fields=["licence", "chemical", "activity"],
                                               name="precursors_cover_unique")]
        indexes = [models.Index(fields=["activity", "enterprise", "chemical"], name="precursors_cover_pair"),
                   models.Index(fields=["activity", "number", "chemical"], name="precursors_cover_number")]

    def __str__(self) -> str:
        return f"{self.activity} {self.number} c{self.chemical_id} {self.valid_from}–{self.valid_until}"


class Destruction(VersionedModel):
    """A witnessed destruction of chemicals (e.g. expired sulphuric acid, hydrochloric acid,
    acetone, potassium permanganate, chloroform, ether and toluene, as in the seed): date,
    method, witness units. Its quantities are the ledger entries of direction
    ``destroyed`` pointing at it."""

    enterprise = models.ForeignKey(Enterprise, verbose_name=_("企业"), on_delete=models.PROTECT,
                                   related_name="destructions")
    destroyed_on = models.DateField(_("销毁日期"))
    method = models.CharField(_("销毁方式"), max_length=200, blank=True)
    place = models.CharField(_("销毁地点"), max_length=200, blank=True)
    witness_units = models.ManyToManyField("org.Unit", verbose_name=_("监督单位"), blank=True, related_name="+")
    witnesses = models.CharField(_("见证人员"), max_length=300, blank=True)
    note = models.TextField(_("备注"), blank=True)

    history = HistoricalRecords()
    scope_division_path = "enterprise__division"
    scope_assignee_path = "enterprise__account_users"
    person_name_fields = ("witnesses",)

    class Meta:
        verbose_name = _("销毁记录")
        verbose_name_plural = _("销毁记录")
        ordering = ["-destroyed_on", "-id"]

    def __str__(self) -> str:
        return f"{self.enterprise} {self.destroyed_on}"


class LedgerEntry(models.Model):
    """One line of an enterprise's stock ledger (出入库台账, Regulation art. 18/19: kept two
    years): a chemical moved in, out, used, destroyed or lost on ``occurred_on``.

    ``quantity_kg`` is positive Decimal kilograms whatever the direction; the entered
    quantity, unit, density and net mass per piece are kept (``quantity_entered``,
    ``unit_entered``, ``density_kg_per_l``, ``piece_mass_kg``). ``balance_after_kg`` is the enterprise's balance of the
    chemical after this entry was posted (posting order, not date order).
    The counterparty is a Jindu enterprise (``counterparty``) when its credit code is
    known, else an outside party by name. ``chemical_raw`` keeps the name as written in
    an imported file. Entries are never edited or deleted: a wrong one is voided
    (``voided_at`` with a reason), which reverses its effect on the balance — by a
    supervisor, or by the enterprise itself while the entry is within the reporting window
    and no open discrepancy rests on it (:func:`jindu.precursors.services.void_entry`).
    ``reported_on`` is the date a sale was reported to the police (art. 19: Category 1
    within 5 days, Categories 2 and 3 within 30 days).
    """

    # (No index of its own: the (enterprise, chemical, occurred_on) index leads with it.)
    enterprise = models.ForeignKey(Enterprise, verbose_name=_("企业"), on_delete=models.PROTECT,
                                   related_name="ledger_entries", db_index=False)
    chemical = models.ForeignKey(Chemical, verbose_name=_("品种"), on_delete=models.PROTECT, related_name="+")
    chemical_raw = models.CharField(_("品种（原文）"), max_length=120, blank=True)
    occurred_on = models.DateField(_("发生日期"))
    direction = models.CharField(_("方向"), max_length=12, choices=Direction.choices)
    quantity_kg = models.DecimalField(_("数量（千克）"), max_digits=16, decimal_places=3,
                                      validators=[MinValueValidator(KG)])
    quantity_entered = models.DecimalField(_("录入数量"), max_digits=16, decimal_places=4, null=True, blank=True)
    unit_entered = models.CharField(_("录入单位"), max_length=8, choices=QuantityUnit.choices, default=QuantityUnit.KG)
    density_kg_per_l = models.DecimalField(_("密度（千克/升）"), max_digits=7, decimal_places=4, null=True,
                                           blank=True)
    piece_mass_kg = models.DecimalField(_("每件净重（千克）"), max_digits=10, decimal_places=4, null=True,
                                        blank=True)
    balance_after_kg = models.DecimalField(_("结存（千克）"), max_digits=18, decimal_places=3, null=True,
                                           editable=False)
    # (No index of its own: ``precursors_entry_transfer`` leads with it.)
    counterparty = models.ForeignKey(Enterprise, verbose_name=_("对方企业"), null=True, blank=True,
                                     on_delete=models.PROTECT, related_name="counterparty_entries", db_index=False)
    counterparty_credit_code = models.CharField(_("对方信用代码"), max_length=20, blank=True)
    counterparty_name = models.CharField(_("对方单位"), max_length=200, blank=True)
    document_number = models.CharField(_("单据编号"), max_length=80, blank=True)
    permit_number = models.CharField(_("许可/备案编号"), max_length=80, blank=True)
    permit_number_raw = models.CharField(_("许可/备案编号（原文）"), max_length=120, blank=True)
    transport_permit_number = models.CharField(_("运输许可/备案编号"), max_length=80, blank=True)
    purpose = models.CharField(_("用途"), max_length=200, blank=True)
    expires_on = models.DateField(_("失效日期"), null=True, blank=True)
    reported_on = models.DateField(_("报告公安日期"), null=True, blank=True)
    destruction = models.ForeignKey(Destruction, verbose_name=_("销毁记录"), null=True, blank=True,
                                    on_delete=models.PROTECT, related_name="entries")
    source = models.CharField(_("来源"), max_length=8, choices=EntrySource.choices, default=EntrySource.MANUAL)
    import_batch = models.ForeignKey("core.ImportBatch", verbose_name=_("导入批次"), null=True, blank=True,
                                     on_delete=models.SET_NULL, related_name="+")
    recorded_at = models.DateTimeField(_("登记时间"), auto_now_add=True)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("登记人"), null=True, blank=True,
                                    on_delete=models.SET_NULL, related_name="+")
    voided_at = models.DateTimeField(_("作废时间"), null=True, blank=True)
    void_reason = models.CharField(_("作废原因"), max_length=255, blank=True)

    # The ledger is append-only (entries are voided, never edited): the domain event of each
    # posting is its audit trail; row history would double a 10-million-row table.
    scope_division_path = "enterprise__division"
    scope_assignee_path = "enterprise__account_users"
    objects = ScopedManager()

    class Meta:
        verbose_name = _("出入库台账")
        verbose_name_plural = _("出入库台账")
        ordering = ["-occurred_on", "-id"]
        # An enterprise's own correction of its entries (``services.void_entry``): void them
        # within the reporting window while no regulator relies on them. Supervisors void
        # with ``change_ledgerentry``.
        permissions = [("void_own_ledgerentry", _("作废本企业登记有误的台账"))]
        constraints = [
            models.CheckConstraint(condition=Q(quantity_kg__gt=0), name="precursors_entry_positive_quantity"),
        ]
        indexes = [
            models.Index(fields=["enterprise", "chemical", "occurred_on"]),
            # The transfers (entries naming a Jindu counterparty), carrying every column the
            # reconciliation's transfer matching reads: on PostgreSQL it anti-joins both sides
            # from this index alone (index-only scans of a sixth of the table's size), not
            # from the table. (SQLite has no INCLUDE: there it is the plain key.)
            models.Index(fields=["counterparty", "chemical", "occurred_on"],
                         include=["enterprise", "direction", "quantity_kg", "voided_at", "id"],
                         condition=Q(counterparty__isnull=False), name="precursors_entry_transfer"),
            models.Index(fields=["occurred_on", "id"]),
            # The few voided entries (an incremental reconciliation finds the voids since the
            # previous run through it).
            models.Index(fields=["voided_at"], condition=Q(voided_at__isnull=False), name="precursors_entry_voided"),
        ]

    def __str__(self) -> str:
        return f"{self.occurred_on} {self.get_direction_display()} {self.chemical} {self.quantity_kg} kg"

    def save(self, *args, **kwargs) -> None:
        """Save, and keep :class:`LedgerMonth` in step in the same transaction: a new entry is
        added to its month; a saved existing one (a void) has its month summed again from
        the ledger. (``bulk_create`` and raw SQL bypass this: see
        :mod:`jindu.precursors.reconciliation.months`.)"""
        from django.db import transaction

        from jindu.precursors.reconciliation import months

        adding = self._state.adding
        with transaction.atomic(using=kwargs.get("using")):
            super().save(*args, **kwargs)
            if adding:
                months.add_entries([self])
            else:
                months.refresh_months([(self.enterprise_id, self.chemical_id, self.occurred_on)])


class StockBalance(models.Model):
    """The current balance of one chemical at one enterprise, in kilograms: the sum of its
    non-voided ledger entries. Outbound postings lock this row (``select_for_update``) so
    two simultaneous movements cannot overdraw it (DESIGN.md, Concurrency)."""

    enterprise = models.ForeignKey(Enterprise, verbose_name=_("企业"), on_delete=models.CASCADE,
                                   related_name="balances")
    chemical = models.ForeignKey(Chemical, verbose_name=_("品种"), on_delete=models.PROTECT, related_name="+")
    quantity_kg = models.DecimalField(_("结存（千克）"), max_digits=18, decimal_places=3, default=Decimal("0"))
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    scope_division_path = "enterprise__division"
    scope_assignee_path = "enterprise__account_users"
    objects = ScopedManager()

    class Meta:
        verbose_name = _("库存结存")
        verbose_name_plural = _("库存结存")
        ordering = ["enterprise", "chemical"]
        constraints = [
            models.UniqueConstraint(fields=["enterprise", "chemical"], name="precursors_balance_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.enterprise} · {self.chemical}: {self.quantity_kg} kg"


class LedgerMonth(models.Model):
    """One calendar month of one chemical's stock ledger at one enterprise, summed: the
    kilograms received (``in_kg``), sent out in every other direction (``out_kg``) and moved
    out by sale, use or loss (``moved_kg``; witnessed destruction left out), the balance
    before the month (``opening_kg``; ``NULL`` on the pair's first month with entries), the
    last inbound and first outbound day, the earliest expiry date of the lots received,
    the last day with entries, the lowest end-of-day balance within the month relative to
    the opening (``low_kg``; ``low_before_kg`` the same over the days before ``last_on``),
    that lowest balance itself (``lowest_kg`` = opening + ``low_kg``) and how many entries — over the non-voided entries dated in ``month`` (its first day).

    A maintained summary, not a record: it is kept in step with the ledger in the same
    transaction as every posting (:meth:`LedgerEntry.save`,
    :func:`jindu.precursors.services.post_entries`) and void, like :class:`StockBalance`,
    so that the reconciliation reads opening balances and monthly totals from here instead
    of re-reading ten million entries (:mod:`jindu.precursors.reconciliation.months`).
    Rows written to the ledger by raw SQL (the demo, the bench) are summed afterwards by
    :func:`~jindu.precursors.reconciliation.months.rebuild_ledger_months`, which
    ``manage.py rebuild_ledger_months`` runs as the repair tool.
    """

    # No database constraint on the two keys: every row is summed from ledger entries whose
    # keys are checked, and a rebuild writes millions of rows whose deferred key checks
    # would otherwise cost more than the summing (the ORM still cascades deletions).
    enterprise = models.ForeignKey(Enterprise, verbose_name=_("企业"), on_delete=models.CASCADE, related_name="+",
                                   db_constraint=False)
    chemical = models.ForeignKey(Chemical, verbose_name=_("品种"), on_delete=models.DO_NOTHING, related_name="+",
                                 db_constraint=False)
    month = models.DateField(_("月份"))
    in_kg = models.DecimalField(_("入库（千克）"), max_digits=18, decimal_places=3, default=Decimal("0"))
    out_kg = models.DecimalField(_("出库合计（千克）"), max_digits=18, decimal_places=3, default=Decimal("0"))
    moved_kg = models.DecimalField(_("销售、使用及损耗（千克）"), max_digits=18, decimal_places=3,
                                   default=Decimal("0"))
    opening_kg = models.DecimalField(_("月初结存（千克）"), max_digits=18, decimal_places=3, null=True)
    last_in_on = models.DateField(_("最后入库日"), null=True)
    first_out_on = models.DateField(_("首次出库日"), null=True)
    first_expiry_on = models.DateField(_("最早失效日期"), null=True)
    last_on = models.DateField(_("最后发生日"), null=True)
    low_kg = models.DecimalField(_("月内最低日末变动（千克）"), max_digits=18, decimal_places=3, null=True)
    low_before_kg = models.DecimalField(_("最后发生日前最低日末变动（千克）"), max_digits=18, decimal_places=3,
                                        null=True)
    lowest_kg = models.DecimalField(_("月内最低日末结存（千克）"), max_digits=18, decimal_places=3, null=True)
    entries = models.PositiveIntegerField(_("笔数"), default=0)

    class Meta:
        verbose_name = _("台账月汇总")
        verbose_name_plural = _("台账月汇总")
        ordering = ["enterprise", "chemical", "month"]
        constraints = [
            models.UniqueConstraint(fields=["enterprise", "chemical", "month"], name="precursors_ledger_month_unique"),
        ]
        indexes = [
            # The reconciliation's few look-ups across all pairs: months holding lots with an
            # expiry date, and each pair's first month (counting pairs).
            models.Index(fields=["first_expiry_on"], condition=Q(first_expiry_on__isnull=False),
                         name="precursors_month_expiry"),
            models.Index(fields=["month"], condition=Q(opening_kg__isnull=True), name="precursors_month_first"),
            # Months whose balance goes below zero on some day (the negative-balance rule).
            models.Index(fields=["enterprise", "chemical"], condition=Q(lowest_kg__lt=0), name="precursors_month_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.enterprise_id} · {self.chemical_id} · {self.month:%Y-%m}"


class LedgerPair(models.Model):
    """One chemical's stock ledger at one enterprise, summed over all its months from the
    monthly summary (:class:`LedgerMonth`): how many months moved something out by sale, use
    or loss (``moved_months``), the lower median of those months' kilograms (the
    ``⌈n/2⌉``-th smallest, ``moved_median_kg``) and the largest (``moved_top_kg``; both
    ``NULL`` without such months), the kilograms sent out in every direction other than
    inbound (``out_kg``), the earliest expiry date of the lots received (``first_expiry_on``)
    and the last day with entries (``last_on``).

    Maintained with the summary, in the same transaction
    (:mod:`jindu.precursors.reconciliation.months`): an incremental reconciliation reads
    one row per pair here instead of every month of the pair's history — the statistical
    screen's pre-test takes the median and largest month from here, the expired-lot rule
    the outbound total and earliest expiry (pairs with entries dated after the
    reconciliation date are judged from their months instead).
    """

    # (Keys as LedgerMonth's; no index of their own: the unique (enterprise, chemical) one
    # serves every look-up, and a second on enterprise alone drew the planner to it.)
    enterprise = models.ForeignKey(Enterprise, verbose_name=_("企业"), on_delete=models.CASCADE, related_name="+",
                                   db_constraint=False, db_index=False)
    chemical = models.ForeignKey(Chemical, verbose_name=_("品种"), on_delete=models.DO_NOTHING, related_name="+",
                                 db_constraint=False, db_index=False)
    moved_months = models.PositiveIntegerField(_("有销售、使用或损耗的月数"), default=0)
    moved_median_kg = models.DecimalField(_("月销售、使用及损耗中位数（千克）"), max_digits=18, decimal_places=3,
                                          null=True)
    moved_top_kg = models.DecimalField(_("月销售、使用及损耗最大值（千克）"), max_digits=18, decimal_places=3,
                                       null=True)
    out_kg = models.DecimalField(_("出库合计（千克）"), max_digits=18, decimal_places=3, default=Decimal("0"))
    first_expiry_on = models.DateField(_("最早失效日期"), null=True)
    last_on = models.DateField(_("最后发生日"), null=True)

    class Meta:
        verbose_name = _("台账品种汇总")
        verbose_name_plural = _("台账品种汇总")
        ordering = ["enterprise", "chemical"]
        constraints = [
            models.UniqueConstraint(fields=["enterprise", "chemical"], name="precursors_ledger_pair_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.enterprise_id} · {self.chemical_id}"


class StockCount(VersionedModel):
    """A reported physical stock count (盘点) of one chemical at one enterprise on a date.
    ``ledger_balance_kg`` is the ledger's balance at the end of ``counted_on`` when the
    count was recorded; a difference beyond tolerance is a discrepancy
    (:mod:`jindu.precursors.reconciliation`)."""

    enterprise = models.ForeignKey(Enterprise, verbose_name=_("企业"), on_delete=models.PROTECT,
                                   related_name="stock_counts")
    chemical = models.ForeignKey(Chemical, verbose_name=_("品种"), on_delete=models.PROTECT, related_name="+")
    counted_on = models.DateField(_("盘点日期"))
    quantity_kg = models.DecimalField(_("实盘数量（千克）"), max_digits=18, decimal_places=3,
                                      validators=[MinValueValidator(Decimal("0"))])
    ledger_balance_kg = models.DecimalField(_("账面结存（千克）"), max_digits=18, decimal_places=3, editable=False)
    counted_by = models.CharField(_("盘点人"), max_length=100, blank=True)
    note = models.TextField(_("备注"), blank=True)

    history = HistoricalRecords()
    scope_division_path = "enterprise__division"
    scope_assignee_path = "enterprise__account_users"
    person_name_fields = ("counted_by",)

    class Meta:
        verbose_name = _("库存盘点")
        verbose_name_plural = _("库存盘点")
        ordering = ["-counted_on", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["enterprise", "chemical", "counted_on"], name="precursors_count_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.enterprise} {self.chemical} {self.counted_on}"

    @property
    def difference_kg(self) -> Decimal:
        """Counted minus ledger, kilograms (negative: less stock than the ledger says)."""
        return self.quantity_kg - self.ledger_balance_kg


class ReconciliationRun(models.Model):
    """One run of the closed-loop reconciliation: ``full`` (every enterprise) or
    ``incremental`` (only the enterprise/chemical pairs touched by entries after the
    previous run's ``watermark_entry_id``). Counts are for the progress page and the bench."""

    MODE_CHOICES = [("full", _("全量")), ("incremental", _("增量"))]
    mode = models.CharField(_("方式"), max_length=12, choices=MODE_CHOICES)
    started_at = models.DateTimeField(_("开始时间"), auto_now_add=True)
    finished_at = models.DateTimeField(_("结束时间"), null=True, blank=True)
    as_of = models.DateField(_("核对截止日期"))
    watermark_entry_id = models.BigIntegerField(_("已核对至台账编号"), default=0)
    pairs_checked = models.PositiveIntegerField(_("核对企业品种数"), default=0)
    raised = models.PositiveIntegerField(_("新发现问题数"), default=0)
    started_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("发起人"), null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    scope_national = True  # a run's counts name no enterprise
    objects = ScopedManager()

    class Meta:
        verbose_name = _("闭环核对批次")
        verbose_name_plural = _("闭环核对批次")
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"{self.get_mode_display()} {self.started_at:%Y-%m-%d %H:%M}"


class Discrepancy(VersionedModel):
    """A problem the closed loop found: which rule (``rule``, a code of
    :data:`jindu.precursors.reconciliation.RULES`), at which enterprise and chemical, with
    its evidence (the ledger entries, licences and counts involved), until it is worked
    and closed with a resolution.

    ``fingerprint`` identifies the finding so a re-run does not raise it twice.
    ``severity`` tells suspected violations from statistical outliers flagged for review.
    ``deadline`` is a local date (due all day, overdue from local midnight).
    ``still_detected`` is cleared when a later run no longer finds the condition.
    Enterprises' own users never see discrepancies.
    """

    rule = models.CharField(_("核对规则"), max_length=40)
    fingerprint = models.CharField(_("指纹"), max_length=200)
    severity = models.CharField(_("性质"), max_length=12, choices=DiscrepancySeverity.choices,
                                default=DiscrepancySeverity.VIOLATION)
    enterprise = models.ForeignKey(Enterprise, verbose_name=_("企业"), on_delete=models.PROTECT,
                                   related_name="discrepancies")
    chemical = models.ForeignKey(Chemical, verbose_name=_("品种"), null=True, blank=True, on_delete=models.PROTECT,
                                 related_name="+")
    occurred_on = models.DateField(_("问题日期"), null=True, blank=True)
    summary = models.CharField(_("问题摘要"), max_length=300)
    details = models.JSONField(_("核对明细"), default=dict, blank=True)
    entries = models.ManyToManyField(LedgerEntry, verbose_name=_("相关台账"), blank=True, related_name="discrepancies")
    licences = models.ManyToManyField(Licence, verbose_name=_("相关证照"), blank=True, related_name="discrepancies")
    stock_count = models.ForeignKey(StockCount, verbose_name=_("相关盘点"), null=True, blank=True,
                                    on_delete=models.PROTECT, related_name="discrepancies")
    detected_at = models.DateTimeField(_("发现时间"), auto_now_add=True)
    detected_by_run = models.ForeignKey(ReconciliationRun, verbose_name=_("发现批次"), null=True, blank=True,
                                        on_delete=models.SET_NULL, related_name="discrepancies")
    still_detected = models.BooleanField(_("仍存在"), default=True)
    status = models.CharField(_("办理状态"), max_length=12, choices=DiscrepancyStatus.choices,
                              default=DiscrepancyStatus.OPEN)
    assignee = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("承办人"), null=True, blank=True,
                                 on_delete=models.SET_NULL, related_name="precursor_discrepancies")
    deadline = models.DateField(_("办理期限"), null=True, blank=True)
    work_notes = models.TextField(_("核查情况"), blank=True)
    resolution = models.CharField(_("办结方式"), max_length=12, choices=Resolution.choices, blank=True)
    resolution_note = models.TextField(_("办结说明"), blank=True)
    case_number = models.CharField(_("移交案件编号"), max_length=64, blank=True)
    closed_at = models.DateTimeField(_("办结时间"), null=True, blank=True)
    closed_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("办结人"), null=True, blank=True,
                                  on_delete=models.SET_NULL, related_name="+")

    history = HistoricalRecords()
    scope_division_path = "enterprise__division"

    class Meta:
        verbose_name = _("核对问题")
        verbose_name_plural = _("核对问题")
        ordering = ["status", "deadline", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["rule", "fingerprint"], name="precursors_discrepancy_unique_finding"),
        ]
        indexes = [models.Index(fields=["status", "rule"]), models.Index(fields=["enterprise", "status"])]

    def __str__(self) -> str:
        return self.summary
