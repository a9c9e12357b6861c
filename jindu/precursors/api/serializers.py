"""Serializers of the precursors API. Quantities are Decimal kilograms sent as strings
(``"1250.500"``), never floats. Writes are described by the ``*Create*``/action serializers
and carried out by :mod:`jindu.precursors.services` in the views."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from jindu.core.api import ScopedRelatedField, VersionedModelSerializer
from jindu.core.fields import PhoneNumberSerializerField
from jindu.geo.models import Division
from jindu.org.models import Unit
from jindu.precursors import selectors
from jindu.precursors.choices import Direction, LicenceKind, QuantityUnit, Resolution
from jindu.precursors.models import (
    Chemical,
    Discrepancy,
    Enterprise,
    LedgerEntry,
    Licence,
    LicenceChemical,
    StockBalance,
    StockCount,
)


class ChemicalSerializer(serializers.ModelSerializer):
    class Meta:
        model = Chemical
        fields = ["id", "category", "name_zh", "name_en", "cas_number", "un_1988_table", "added_on", "added_on_text",
                  "is_pharmaceutical", "typical_density_kg_per_l", "density_source", "notes", "is_active"]
        read_only_fields = fields


class EnterpriseSerializer(VersionedModelSerializer):
    """Enterprise; ``supervising_units`` are unit ids. Creates and updates go through
    ``services.create_enterprise`` / ``update_enterprise`` (credit code checked)."""

    division = ScopedRelatedField(Division, label=_("所属区划"))
    supervising_units = ScopedRelatedField(Unit, many=True, required=False, label=_("监管部门"))
    contact_phone = PhoneNumberSerializerField(required=False, allow_blank=True, label=_("联系电话"))

    class Meta:
        model = Enterprise
        fields = ["id", "name", "credit_code", "legacy_code", "kind", "division", "address", "supervising_units",
                  "contact_name", "contact_phone", "risk_level", "status", "note", "is_demo", "version", "created_at",
                  "updated_at"]
        read_only_fields = ["is_demo", "created_at", "updated_at"]
        validators = []  # uniqueness of the codes: the service (Chinese message) and the constraints

    def get_fields(self):
        fields = super().get_fields()
        for name in ("credit_code", "legacy_code"):
            fields[name].validators = [v for v in fields[name].validators
                                       if type(v).__name__ != "UniqueValidator"]
        return fields


class LicenceLineSerializer(serializers.ModelSerializer):
    chemical_name = serializers.CharField(source="chemical.name_zh", read_only=True)

    class Meta:
        model = LicenceChemical
        fields = ["chemical", "chemical_name", "quantity_limit_kg"]
        read_only_fields = fields


class LicenceSerializer(serializers.ModelSerializer):
    lines = LicenceLineSerializer(many=True, read_only=True)

    class Meta:
        model = Licence
        fields = ["id", "enterprise", "kind", "number", "number_raw", "issuer", "issuer_raw", "issued_on", "valid_from",
                  "valid_until", "one_trip", "counterparty_credit_code", "counterparty_name", "status", "revoked_on",
                  "note", "lines", "version", "created_at", "updated_at"]
        read_only_fields = fields


class LicenceLineInputSerializer(serializers.Serializer):
    chemical = serializers.PrimaryKeyRelatedField(queryset=Chemical.objects.all(), label=_("品种"))
    quantity_limit_kg = serializers.DecimalField(max_digits=16, decimal_places=3, required=False, allow_null=True,
                                                 label=_("限量（千克）"))


class LicenceCreateSerializer(serializers.Serializer):
    """Body of ``POST /api/precursor-licences/`` (``services.create_licence``)."""

    enterprise = ScopedRelatedField(Enterprise, label=_("企业"))
    kind = serializers.ChoiceField(choices=LicenceKind.choices, label=_("证照类型"))
    number = serializers.CharField(max_length=120, label=_("证照编号"))
    issuer = serializers.CharField(max_length=120, required=False, allow_blank=True, label=_("发证机关"))
    issued_on = serializers.DateField(required=False, allow_null=True, label=_("发证日期"))
    valid_from = serializers.DateField(label=_("有效期起"))
    valid_until = serializers.DateField(label=_("有效期至"))
    one_trip = serializers.BooleanField(required=False, default=False, label=_("一次有效"))
    counterparty_credit_code = serializers.CharField(max_length=20, required=False, allow_blank=True,
                                                     label=_("对方信用代码"))
    counterparty_name = serializers.CharField(max_length=200, required=False, allow_blank=True, label=_("对方单位"))
    note = serializers.CharField(required=False, allow_blank=True, label=_("备注"))
    lines = LicenceLineInputSerializer(many=True, label=_("证照品种"))


class LedgerEntrySerializer(serializers.ModelSerializer):
    chemical_name = serializers.CharField(source="chemical.name_zh", read_only=True)

    class Meta:
        model = LedgerEntry
        fields = ["id", "enterprise", "chemical", "chemical_name", "chemical_raw", "occurred_on", "direction",
                  "quantity_kg", "quantity_entered", "unit_entered", "density_kg_per_l", "piece_mass_kg",
                  "balance_after_kg", "counterparty", "counterparty_credit_code", "counterparty_name",
                  "document_number", "permit_number", "permit_number_raw", "transport_permit_number", "purpose",
                  "expires_on", "reported_on", "destruction", "source", "import_batch", "recorded_at", "recorded_by",
                  "voided_at", "void_reason"]
        read_only_fields = fields


class LedgerEntryCreateSerializer(serializers.Serializer):
    """Body of ``POST /api/ledger-entries/`` (``services.post_entry``). The quantity is
    entered in ``unit_entered`` and stored in kilograms; an outbound movement that would
    make the balance negative is refused with 400."""

    enterprise = ScopedRelatedField(Enterprise, label=_("企业"))
    chemical = serializers.PrimaryKeyRelatedField(queryset=Chemical.objects.all(), label=_("品种"))
    occurred_on = serializers.DateField(label=_("发生日期"))
    direction = serializers.ChoiceField(choices=Direction.choices, label=_("方向"))
    quantity_entered = serializers.DecimalField(max_digits=16, decimal_places=4, label=_("数量"))
    unit_entered = serializers.ChoiceField(choices=QuantityUnit.choices, default=QuantityUnit.KG, label=_("单位"))
    density_kg_per_l = serializers.DecimalField(max_digits=7, decimal_places=4, required=False, allow_null=True,
                                                label=_("密度（千克/升）"))
    piece_mass_kg = serializers.DecimalField(max_digits=10, decimal_places=4, required=False, allow_null=True,
                                             label=_("每件净重（千克）"))
    counterparty_credit_code = serializers.CharField(max_length=20, required=False, allow_blank=True,
                                                     label=_("对方信用代码"))
    counterparty_name = serializers.CharField(max_length=200, required=False, allow_blank=True, label=_("对方单位"))
    document_number = serializers.CharField(max_length=80, required=False, allow_blank=True, label=_("单据编号"))
    permit_number = serializers.CharField(max_length=120, required=False, allow_blank=True,
                                          label=_("许可/备案编号"))
    transport_permit_number = serializers.CharField(max_length=80, required=False, allow_blank=True,
                                                    label=_("运输许可/备案编号"))
    purpose = serializers.CharField(max_length=200, required=False, allow_blank=True, label=_("用途"))
    expires_on = serializers.DateField(required=False, allow_null=True, label=_("失效日期"))
    reported_on = serializers.DateField(required=False, allow_null=True, label=_("报告公安日期"))


class StockBalanceSerializer(serializers.ModelSerializer):
    chemical_name = serializers.CharField(source="chemical.name_zh", read_only=True)

    class Meta:
        model = StockBalance
        fields = ["id", "enterprise", "chemical", "chemical_name", "quantity_kg", "updated_at"]
        read_only_fields = fields


class StockCountSerializer(serializers.ModelSerializer):
    difference_kg = serializers.DecimalField(max_digits=18, decimal_places=3, read_only=True, label=_("差额（千克）"))

    class Meta:
        model = StockCount
        fields = ["id", "enterprise", "chemical", "counted_on", "quantity_kg", "ledger_balance_kg", "difference_kg",
                  "counted_by", "note", "version", "created_at"]
        read_only_fields = fields


class StockCountCreateSerializer(serializers.Serializer):
    enterprise = ScopedRelatedField(Enterprise, label=_("企业"))
    chemical = serializers.PrimaryKeyRelatedField(queryset=Chemical.objects.all(), label=_("品种"))
    counted_on = serializers.DateField(label=_("盘点日期"))
    quantity_kg = serializers.DecimalField(max_digits=18, decimal_places=3, min_value=0, label=_("实盘数量（千克）"))
    counted_by = serializers.CharField(max_length=100, required=False, allow_blank=True, label=_("盘点人"))
    note = serializers.CharField(required=False, allow_blank=True, label=_("备注"))


class DiscrepancySerializer(serializers.ModelSerializer):
    rule_title = serializers.SerializerMethodField(label=_("规则名称"))

    class Meta:
        model = Discrepancy
        fields = ["id", "rule", "rule_title", "severity", "enterprise", "chemical", "occurred_on", "summary", "details",
                  "entries", "licences", "stock_count", "detected_at", "detected_by_run", "still_detected", "status",
                  "assignee", "deadline", "work_notes", "resolution", "resolution_note", "case_number", "closed_at",
                  "closed_by", "version", "created_at", "updated_at"]
        read_only_fields = fields

    def get_rule_title(self, obj) -> str:
        return selectors.rule_title(obj.rule)


class ReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=255, label=_("原因"))


class RevokeSerializer(serializers.Serializer):
    """Body of ``POST /api/precursor-licences/{id}/revoke/`` (``services.revoke_licence``):
    the decision's local date (past dates accepted, not future, not before ``valid_from``)
    and the reason."""

    revoked_on = serializers.DateField(label=_("吊销/注销日期"), error_messages={
        "required": _("请填写吊销/注销日期（决定书载明的日期）。"),
        "null": _("请填写吊销/注销日期（决定书载明的日期）。"),
        "invalid": _("吊销/注销日期不是有效日期（应为 YYYY-MM-DD）。")})
    reason = serializers.CharField(max_length=500, label=_("原因"))


class AssignSerializer(serializers.Serializer):
    version = serializers.IntegerField(min_value=1, label=_("版本"))
    assignee = serializers.IntegerField(label=_("承办人"))
    deadline = serializers.DateField(label=_("办理期限"))


class WorkSerializer(serializers.Serializer):
    version = serializers.IntegerField(min_value=1, label=_("版本"))
    notes = serializers.CharField(label=_("核查情况"))


class CloseSerializer(serializers.Serializer):
    version = serializers.IntegerField(min_value=1, label=_("版本"))
    resolution = serializers.ChoiceField(choices=Resolution.choices, label=_("办结方式"))
    note = serializers.CharField(label=_("办结说明"))
    case_number = serializers.CharField(max_length=64, required=False, allow_blank=True, label=_("移交案件编号"))


class ReopenSerializer(serializers.Serializer):
    version = serializers.IntegerField(min_value=1, label=_("版本"))
    reason = serializers.CharField(max_length=500, label=_("重新打开原因"))
