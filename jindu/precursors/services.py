"""Every write of the precursors app: enterprises, licences and filings, stock-ledger postings
(single and bulk), voids, stock counts, destructions, and the discrepancy workflow.

Legal basis: 《易制毒化学品管理条例》(国务院令第445号, 2018 revision; "the Regulation").
Licences and filings: arts. 7–17, 20–22; sales and use ledgers kept two years: arts. 18–19;
supervision and inspection: arts. 32–33.

Conventions (DESIGN.md): every function is keyword-only, runs in one transaction,
validates (``full_clean`` or the equivalent field checks), re-checks the acting user's
scope (out of scope: ``PermissionDenied``, nothing written) and writes audit events
``precursors.<thing>_<verb>``. ``user=None`` is a system action (loaders, demo data,
bench): no scope check, the audit event has no actor.

Concurrency: a posting locks the ``StockBalance`` row of its enterprise × chemical
(``SELECT … FOR UPDATE``) before reading the balance, so two simultaneous outbound
movements cannot both pass the "no negative balance" check; the bulk path locks all its
balance rows in one fixed order, (enterprise_id, chemical_id), so two batches cannot
deadlock each other.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Iterable, Mapping, Sequence

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Case, DecimalField, F, Q, Sum, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from jindu.core.audit import record_event
from jindu.core.scope import ADD, CHANGE, VIEW, scope_q
from jindu.core.services import ensure_in_scope, update_versioned
from jindu.core.timeutils import local_now, local_today, parse_local_date
from jindu.precursors.choices import (
    Direction,
    DiscrepancyStatus,
    EntrySource,
    LicenceStatus,
    QuantityUnit,
    Resolution,
)
from jindu.precursors.models import (
    Chemical,
    Destruction,
    Discrepancy,
    Enterprise,
    LedgerEntry,
    Licence,
    LicenceChemical,
    StockBalance,
    StockCount,
)
from jindu.precursors.normalize import check_credit_code, normalize_number, to_halfwidth
from jindu.precursors.reconciliation import months as ledger_months
from jindu.precursors.units import quantity_to_kg

__all__ = [
    "ENTERPRISE_FIELDS", "LICENCE_FIELDS", "ENTRY_FIELDS", "DESTRUCTION_FIELDS", "PostingError",
    "clean_credit_code", "clean_legacy_code",
    "create_enterprise", "update_enterprise", "set_enterprise_accounts",
    "create_licence", "revoke_licence",
    "post_entry", "post_entries", "VOID_OWN", "voidable_entries", "own_void_refusal", "void_entry",
    "record_stock_count", "record_destruction",
    "ledger_balance_at",
    "assign_discrepancy", "record_discrepancy_work", "close_discrepancy", "reopen_discrepancy",
]

ENTERPRISE_FIELDS = (
    "name", "credit_code", "legacy_code", "kind", "division", "address", "contact_name", "contact_phone",
    "risk_level", "status", "note",
)
LICENCE_FIELDS = (
    "kind", "number", "number_raw", "issuer", "issuer_raw", "issued_on", "valid_from", "valid_until", "one_trip",
    "counterparty_credit_code", "counterparty_name", "note",
)
# Keys of a ledger posting (``post_entry`` data, ``post_entries`` rows besides "enterprise").
ENTRY_FIELDS = (
    "chemical", "chemical_raw", "occurred_on", "direction", "quantity_entered", "unit_entered",
    "density_kg_per_l", "piece_mass_kg", "counterparty_credit_code", "counterparty_name", "document_number",
    "permit_number", "permit_number_raw", "transport_permit_number", "purpose", "expires_on", "reported_on",
)
DESTRUCTION_FIELDS = ("destroyed_on", "method", "place", "witnesses", "note")
BULK_BATCH_SIZE = 1000
_LOCK_CHUNK = 500  # enterprises per balance-locking query
_ZERO = Decimal("0")


class PostingError(ValidationError):
    """A bulk posting refused as a whole. ``rows`` lists ``(row_number, message)`` pairs
    (Chinese), row numbers as the caller gave them (``row["row_number"]``) or 1-based
    positions in the input; ``messages`` reads "第 n 行：…"."""

    def __init__(self, rows: list[tuple[int, str]]):
        self.rows = rows
        super().__init__([_("第 %(n)s 行：%(msg)s") % {"n": n, "msg": msg} for n, msg in rows])


# -- helpers ------------------------------------------------------------------------------
def _set_history_user(obj: Any, user: Any) -> None:
    obj._history_user = user if getattr(user, "is_authenticated", False) else None


def _actor(user: Any) -> Any:
    return user if getattr(user, "is_authenticated", False) else None


def _plain(value: Any) -> Any:
    if hasattr(value, "pk"):
        return value.pk
    if isinstance(value, (Decimal, date, datetime)):
        return str(value)
    return value


def _summary(obj: Any, fields: Iterable[str]) -> dict[str, Any]:
    return {f: _plain(getattr(obj, f)) for f in fields}


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _decimal(value: Any, label: str) -> Decimal | None:
    """``value`` as Decimal (``None``/"" → ``None``); floats go through their shortest repr."""
    if value is None or value == "":
        return None
    if isinstance(value, Decimal):
        return value
    try:
        return Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise ValidationError(_("%(label)s“%(v)s”不是数字。") % {"label": label, "v": value}) from None


def _date(value: Any, label: Any) -> date | None:
    if value is None or value == "" or (isinstance(value, date) and not isinstance(value, datetime)):
        return value or None
    try:
        return parse_local_date(value)
    except ValueError:
        try:
            parse_local_date(value, field=str(label))
        except ValueError as exc:
            raise ValidationError(str(exc)) from None
        raise  # pragma: no cover - the same value cannot parse the second time


def _messages(exc: ValidationError, model: type | None = None) -> list[str]:
    """Flatten a ValidationError to Chinese lines, prefixing field errors with the field's name."""
    if not hasattr(exc, "error_dict"):
        return [str(m) for m in exc.messages]
    out = []
    for field, errors in exc.error_dict.items():
        label = ""
        if model is not None and field != "__all__":
            try:
                label = str(model._meta.get_field(field).verbose_name)
            except Exception:  # not a model field
                label = field
        for err in errors:
            for m in err.messages:
                out.append(f"{label}：{m}" if label else m)
    return out


def _strip_prefix(q: Q, prefix: str) -> Q:
    """``q`` with every lookup re-rooted from a child model onto its enterprise
    (``enterprise__division__in`` → ``division__in``)."""
    out = Q()
    out.connector, out.negated = q.connector, q.negated
    children = []
    for child in q.children:
        if isinstance(child, Q):
            children.append(_strip_prefix(child, prefix))
            continue
        key, value = child
        if key.startswith(prefix):
            children.append((key[len(prefix):], value))
        elif key == "pk__in" and not value:  # the "nothing" seed of scope_q's union
            children.append(child)
        else:
            raise TypeError(f"cannot re-root scope lookup {key!r} onto the enterprise")
    out.children = children
    return out


def _enterprise_q(user: Any, model: type, action: str) -> Q | None:
    """The filter on :class:`Enterprise` selecting the enterprises for which ``user`` may
    ``action`` rows of ``model`` (a model scoped through ``enterprise__…`` paths, or
    Enterprise itself). ``None``: none; ``Q()``: all."""
    q = scope_q(model, user, action)
    if q is None or q == Q() or model is Enterprise:
        return q
    return _strip_prefix(q, "enterprise__")


def _allowed_enterprise_ids(user: Any, model: type, action: str, ids: Iterable[int]) -> set[int]:
    ids = sorted(set(ids))
    if user is None:
        return set(ids)
    q = _enterprise_q(user, model, action)
    if q is None:
        return set()
    if q == Q():
        return set(ids)
    allowed: set[int] = set()
    for i in range(0, len(ids), _LOCK_CHUNK):
        chunk = ids[i:i + _LOCK_CHUNK]
        allowed.update(Enterprise.objects.filter(pk__in=chunk).filter(q).values_list("pk", flat=True).distinct())
    return allowed


def _require_enterprise(user: Any, model: type, action: str, enterprise: Enterprise) -> None:
    """``PermissionDenied`` (the 404-equivalent of a write) unless ``user`` may ``action``
    rows of ``model`` at ``enterprise``; checked before anything is written."""
    if enterprise.pk not in _allowed_enterprise_ids(user, model, action, [enterprise.pk]):
        raise PermissionDenied(_("该企业不在您的管辖范围内，或您无权办理此项业务。"))


def _require_row(user: Any, obj: Any, action: str) -> None:
    if user is None:
        return
    if not type(obj)._default_manager.restrict(user, action).filter(pk=obj.pk).exists():
        raise PermissionDenied(_("该记录不在您的管辖范围内。"))


def _compact_code(value: Any) -> str:
    """A code as stored: half-width, upper case, without spaces or separators."""
    return re.sub(r"[\s\-－—_.·]", "", to_halfwidth(_text(value))).upper()


def clean_credit_code(value: Any) -> str:
    """The 18-character unified social credit code (GB 32100-2015) in its stored form
    (half-width, upper case, no separators); ``""`` for empty input.

    Read by :func:`jindu.precursors.normalize.check_credit_code` (``stdnum.cn.uscc`` plus
    the embedded organisation code's GB 11714 check). Raises ``ValidationError`` (Chinese)
    for a bad code, or for an old organisation code / registration number given here."""
    code, legacy = check_credit_code(_compact_code(value))
    if legacy:
        raise ValidationError(_("“%(v)s”不是18位统一社会信用代码，请填入“组织机构代码/注册号”。") % {"v": value})
    return code


def clean_legacy_code(value: Any) -> str:
    """An older identifier in its stored form: a 9-character organisation code (GB 11714,
    checked) or a 15-digit business registration number; ``""`` for empty input. Read by
    :func:`jindu.precursors.normalize.check_credit_code`. Raises ``ValidationError``
    (Chinese) otherwise, also for an 18-character credit code given here."""
    code, legacy = check_credit_code(_compact_code(value))
    if code:
        raise ValidationError(_("“%(v)s”是统一社会信用代码，请填入“统一社会信用代码”。") % {"v": value})
    return legacy


# -- enterprises --------------------------------------------------------------------------
def _enterprise_values(data: Mapping[str, Any]) -> dict[str, Any]:
    values = {k: v for k, v in data.items() if k in ENTERPRISE_FIELDS}
    errors = {}
    for key, cleaner in (("credit_code", clean_credit_code), ("legacy_code", clean_legacy_code)):
        if key in values:
            try:
                values[key] = cleaner(values[key])
            except ValidationError as exc:
                errors[key] = exc.messages
    if errors:
        raise ValidationError(errors)
    return values


def _check_codes_free(enterprise: Enterprise) -> None:
    others = Enterprise.objects.exclude(pk=enterprise.pk)
    errors = {}
    if enterprise.credit_code and others.filter(credit_code=enterprise.credit_code).exists():
        errors["credit_code"] = _("统一社会信用代码“%(v)s”已登记。") % {"v": enterprise.credit_code}
    if enterprise.legacy_code and others.filter(legacy_code=enterprise.legacy_code).exists():
        errors["legacy_code"] = _("组织机构代码/注册号“%(v)s”已登记。") % {"v": enterprise.legacy_code}
    if errors:
        raise ValidationError(errors)


def _target_data(enterprise: Enterprise) -> dict[str, Any]:
    return {
        "name": enterprise.name,
        "division": enterprise.division,
        "address": enterprise.address,
        "licence_number": enterprise.credit_code or enterprise.legacy_code,
        "operator_name": enterprise.contact_name,
        "operator_phone": enterprise.contact_phone,
        "status": enterprise.status,  # same values as inspections' TargetStatus
    }


def _register_target(user: Any, enterprise: Enterprise) -> None:
    from jindu.inspections.choices import TargetKind
    from jindu.inspections.services import register_external_target

    register_external_target(user=user, source_model="precursors.Enterprise", source_key=str(enterprise.pk),
                             kind=TargetKind.PRECURSOR_ENTERPRISE, data=_target_data(enterprise))


def create_enterprise(*, user: Any, data: Mapping[str, Any]) -> Enterprise:
    """Register an enterprise from ``data`` (keys of :data:`ENTERPRISE_FIELDS`, plus
    ``supervising_units``: iterable of ``org.Unit``; ``is_demo`` for system callers).

    ``credit_code`` is checked (:func:`clean_credit_code`); older records may carry only
    ``legacy_code`` (:func:`clean_legacy_code`). The enterprise is mirrored as an
    inspection target (``inspections.Target`` of kind ``precursor_enterprise``) so it can
    be inspected (Regulation art. 32: supervision and inspection of these enterprises).

    Raises ``ValidationError`` (field-named, Chinese) and ``PermissionDenied`` when the
    enterprise would lie outside where ``user`` may add enterprises (or targets); nothing
    is written then. One ``precursors.enterprise_created`` event.
    """
    with transaction.atomic():
        enterprise = Enterprise(**_enterprise_values(data))
        if user is None and data.get("is_demo"):
            enterprise.is_demo = True
        _check_codes_free(enterprise)
        enterprise.full_clean()
        _set_history_user(enterprise, user)
        enterprise.save()
        if data.get("supervising_units") is not None:
            enterprise.supervising_units.set(data["supervising_units"])
        if user is not None:
            ensure_in_scope(enterprise, user=user, action=ADD)
        _register_target(user, enterprise)
        changes = _summary(enterprise, ENTERPRISE_FIELDS)
        changes["supervising_units"] = sorted(enterprise.supervising_units.values_list("pk", flat=True))
        record_event(action="precursors.enterprise_created", target=enterprise, actor=_actor(user), changes=changes)
    return enterprise


def update_enterprise(*, user: Any, enterprise: Enterprise, data: Mapping[str, Any],
                      expected_version: int | None) -> tuple[Enterprise, bool]:
    """Apply ``data`` (keys of :data:`ENTERPRISE_FIELDS`, and ``supervising_units``) if the
    stored version is still ``expected_version``. Returns ``(enterprise, changed)``; the
    inspection target's name, division, address and status follow.

    Raises :class:`~jindu.core.models.StaleEditError`, ``ValidationError`` and
    ``PermissionDenied`` (out of scope before or after); nothing is written then. One
    ``precursors.enterprise_updated`` event when something changed.
    """
    with transaction.atomic():
        _require_row(user, enterprise, CHANGE)
        values = _enterprise_values(data)
        stored = Enterprise.objects.select_for_update().get(pk=enterprise.pk)
        if expected_version is not None and stored.version != expected_version:
            from jindu.core.models import StaleEditError

            raise StaleEditError(expected_version, stored.version)
        before = _summary(stored, ENTERPRISE_FIELDS)
        units_before = sorted(stored.supervising_units.values_list("pk", flat=True))
        candidate = Enterprise.objects.get(pk=stored.pk)
        for k, v in values.items():
            setattr(candidate, k, v)
        _check_codes_free(candidate)
        candidate.full_clean()
        _set_history_user(stored, user)
        updated, changed = update_versioned(stored, user=user, data=values, fields=ENTERPRISE_FIELDS,
                                            expected_version=None)
        units_after = units_before
        if data.get("supervising_units") is not None:
            updated.supervising_units.set(data["supervising_units"])
            units_after = sorted(updated.supervising_units.values_list("pk", flat=True))
        if units_after != units_before and not changed:
            updated.version += 1
            _set_history_user(updated, user)
            updated.save(update_fields=["version", "updated_at"])
            changed = True
        if changed:
            after = _summary(updated, ENTERPRISE_FIELDS)
            diff = {k: [before[k], after[k]] for k in ENTERPRISE_FIELDS if before[k] != after[k]}
            if units_after != units_before:
                diff["supervising_units"] = [units_before, units_after]
            if user is not None:
                ensure_in_scope(updated, user=user, action=CHANGE)
            _register_target(user, updated)
            record_event(action="precursors.enterprise_updated", target=updated, actor=_actor(user), changes=diff)
    return updated, changed


def set_enterprise_accounts(*, user: Any, enterprise: Enterprise, users: Iterable[Any]) -> None:
    """Make ``users`` the enterprise's own accounts (role ``enterprise``: they see only this
    enterprise's records). Inactive users are refused. Raises ``PermissionDenied`` outside
    ``user``'s change scope. One ``precursors.enterprise_accounts_set`` event."""
    users = list(users)
    inactive = [u.get_username() for u in users if not u.is_active]
    if inactive:
        raise ValidationError(_("以下账号已停用，不能设为企业账号：%(names)s") % {"names": "、".join(inactive)})
    with transaction.atomic():
        _require_row(user, enterprise, CHANGE)
        before = sorted(enterprise.account_users.values_list("username", flat=True))
        enterprise.account_users.set(users)
        after = sorted(u.get_username() for u in users)
        if before != after:
            record_event(action="precursors.enterprise_accounts_set", target=enterprise, actor=_actor(user),
                         changes={"account_users": [before, after]})


# -- licences -----------------------------------------------------------------------------
def create_licence(*, user: Any, enterprise: Enterprise, data: Mapping[str, Any],
                   lines: Sequence[tuple[Chemical, Decimal | None] | tuple[Chemical, Decimal | None, str]]
                   ) -> Licence:
    """Record a licence, filing certificate or permit (``data``: keys of
    :data:`LICENCE_FIELDS`) with the chemicals it covers (``lines``: ``(chemical,
    quantity_limit_kg or None)``, optionally with the name as written as a third element).

    ``number`` defaults to the normalised ``number_raw`` (brackets folded); the validity
    runs from ``valid_from`` to ``valid_until`` inclusive and must not be reversed.
    Regulation arts. 7–10 and 13 (production/trade), 14–17 (purchase), 20–22 (transport).

    Raises ``ValidationError`` (Chinese: reversed validity, duplicate number for the kind,
    duplicate chemical, non-positive limit) and ``PermissionDenied``; nothing is written
    then. One ``precursors.licence_created`` event.
    """
    values = {k: v for k, v in data.items() if k in LICENCE_FIELDS}
    for key in ("issued_on", "valid_from", "valid_until"):
        if key in values:
            values[key] = _date(values[key], str(Licence._meta.get_field(key).verbose_name))
    for key in ("number", "number_raw", "issuer", "issuer_raw", "counterparty_name"):
        if key in values:
            values[key] = _text(values[key])
    if values.get("number_raw") and not values.get("number"):
        values["number"] = normalize_number(values["number_raw"])
    if values.get("counterparty_credit_code"):
        values["counterparty_credit_code"] = _compact_code(values["counterparty_credit_code"])
    with transaction.atomic():
        _require_enterprise(user, Licence, ADD, enterprise)
        licence = Licence(enterprise=enterprise, **values)
        errors: dict[str, list[str]] = {}
        if licence.valid_from and licence.valid_until and licence.valid_until < licence.valid_from:
            errors["valid_until"] = [_("有效期至（%(u)s）不能早于有效期起（%(f)s）。")
                                     % {"u": licence.valid_until, "f": licence.valid_from}]
        if licence.kind and licence.number and Licence.objects.filter(kind=licence.kind,
                                                                      number=licence.number).exists():
            errors["number"] = [_("同类证照编号“%(n)s”已登记。") % {"n": licence.number}]
        if errors:
            raise ValidationError(errors)
        licence.full_clean()
        seen: set[int] = set()
        rows = []
        for chemical, limit, *raw in lines:
            if chemical.pk in seen:
                raise ValidationError({"lines": _("品种“%(c)s”重复。") % {"c": chemical}})
            seen.add(chemical.pk)
            limit = _decimal(limit, _("限量"))
            if limit is not None and limit <= 0:
                raise ValidationError({"lines": _("品种“%(c)s”的限量须大于 0。") % {"c": chemical}})
            rows.append(LicenceChemical(chemical=chemical, quantity_limit_kg=limit,
                                        chemical_raw=_text(raw[0]) if raw else ""))
        _set_history_user(licence, user)
        licence.save()
        for row in rows:
            row.licence = licence
            row.full_clean()
            _set_history_user(row, user)
            row.save()
        if user is not None:
            ensure_in_scope(licence, user=user, action=ADD)
        changes = _summary(licence, LICENCE_FIELDS)
        changes["lines"] = [[r.chemical.name_zh, _plain(r.quantity_limit_kg)] for r in rows]
        record_event(action="precursors.licence_created", target=licence, actor=_actor(user), changes=changes)
    return licence


def revoke_licence(*, user: Any, licence: Licence, revoked_on: date | str, reason: str) -> Licence:
    """Mark a licence or filing revoked/cancelled (吊销/注销) as of ``revoked_on``, the local
    date of the decision (a date or ISO text), with ``reason`` (required, kept in the audit
    event and appended to the note). The decision on paper often reaches Jindu days or
    weeks later, so the date may lie in the past; it may not lie in the future (a decision
    not yet taken is not recorded) nor before the licence's ``valid_from`` (nothing was
    valid then to revoke). From ``revoked_on`` on the licence covers nothing
    (Regulation arts. 7–22; the reconciliation reads the date).

    Raises ``ValidationError`` (Chinese, by field: ``revoked_on`` missing, unreadable, in
    the future or before ``valid_from``; ``reason`` empty; already revoked) and
    ``PermissionDenied`` out of scope; nothing is written then. One
    ``precursors.licence_revoked`` event.
    """
    reason = _text(reason)
    label = str(Licence._meta.get_field("revoked_on").verbose_name)
    errors: dict[str, list[str]] = {}
    try:
        day = _date(revoked_on, label)
    except ValidationError as exc:
        errors["revoked_on"] = exc.messages
        day = None
    else:
        if day is None:
            errors["revoked_on"] = [_("请填写吊销/注销日期（决定书载明的日期）。")]
        elif day > local_today():
            errors["revoked_on"] = [_("吊销/注销日期（%(d)s）不能晚于今天（%(t)s）。")
                                    % {"d": day.isoformat(), "t": local_today().isoformat()}]
    if not reason:
        errors["reason"] = [_("请填写吊销/注销原因。")]
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        _require_row(user, licence, CHANGE)
        stored = Licence.objects.select_for_update().get(pk=licence.pk)
        if stored.status == LicenceStatus.REVOKED:
            raise ValidationError(_("该证照已于 %(d)s 吊销/注销。") % {"d": stored.revoked_on.isoformat()})
        if day < stored.valid_from:
            raise ValidationError({"revoked_on": [_("吊销/注销日期（%(d)s）不能早于证照有效期起（%(f)s）。")
                                                  % {"d": day.isoformat(), "f": stored.valid_from.isoformat()}]})
        note = (stored.note + "\n" if stored.note else "") + _("%(d)s 吊销/注销：%(r)s") % {
            "d": day.isoformat(), "r": reason}
        _set_history_user(stored, user)
        updated, _changed = update_versioned(
            stored, user=user, data={"status": LicenceStatus.REVOKED, "revoked_on": day, "note": note},
            fields=("status", "revoked_on", "note"), expected_version=None)
        record_event(action="precursors.licence_revoked", target=updated, actor=_actor(user), reason=reason,
                     changes={"status": [LicenceStatus.VALID, LicenceStatus.REVOKED],
                              "revoked_on": [None, day.isoformat()]})
    return updated


# -- ledger -------------------------------------------------------------------------------
def _signed(direction: str, quantity_kg: Decimal) -> Decimal:
    """The entry's effect on the balance: inbound adds, every other direction takes away."""
    return quantity_kg if direction == Direction.IN else -quantity_kg


def _chemical(value: Any, cache: dict[int, Chemical] | None = None) -> Chemical | None:
    if value is None or value == "":
        return None
    if isinstance(value, Chemical):
        return value
    pk = int(value)
    if cache is not None and pk in cache:
        return cache[pk]
    chem = Chemical.objects.filter(pk=pk).first()
    if cache is not None and chem is not None:
        cache[pk] = chem
    return chem


# Labels used per row of a bulk posting: translated only when a message needs them.
_L_OCCURRED_ON, _L_EXPIRES_ON, _L_REPORTED_ON = gettext_lazy("发生日期"), gettext_lazy("失效日期"), gettext_lazy("报告公安日期")
_L_QUANTITY, _L_DENSITY, _L_PIECE = gettext_lazy("数量"), gettext_lazy("密度"), gettext_lazy("每件净重")
_DIRECTIONS = frozenset(Direction.values)
_VOLUME_UNITS = (QuantityUnit.L, QuantityUnit.ML)

_ENTRY_CHECKED_EXCLUDE = ("enterprise", "chemical", "counterparty", "destruction", "import_batch", "recorded_by",
                          "balance_after_kg", "recorded_at")


def _build_entry(enterprise_id: int, data: Mapping[str, Any], *, source: str, import_batch: Any, user: Any,
                 chemicals: dict[int, Chemical] | None = None, today: date | None = None) -> LedgerEntry:
    """An unsaved, validated entry (quantity converted, no counterparty link, no balance).
    Raises ``ValidationError`` with Chinese messages."""
    errors: dict[str, list[str]] = {}
    chem = _chemical(data.get("chemical"), chemicals)
    if chem is None:
        raw = _text(data.get("chemical_raw"))
        errors["chemical"] = [_("品种“%(raw)s”不在易制毒化学品目录中。") % {"raw": raw} if raw
                              else _("请选择品种。")]
    occurred_on = direction = quantity_kg = None
    try:
        occurred_on = _date(data.get("occurred_on"), _L_OCCURRED_ON)
        if occurred_on is None:
            errors["occurred_on"] = [_("请填写发生日期。")]
        elif occurred_on > (today or local_today()):
            errors["occurred_on"] = [_("发生日期 %(d)s 晚于今天。") % {"d": occurred_on}]
    except ValidationError as exc:
        errors["occurred_on"] = exc.messages
    direction = _text(data.get("direction"))
    if direction not in _DIRECTIONS:
        errors["direction"] = [_("出入库方向“%(v)s”无效。") % {"v": direction}]
    unit = _text(data.get("unit_entered")) or QuantityUnit.KG
    dates: dict[str, date | None] = {}
    for key, label in (("expires_on", _L_EXPIRES_ON), ("reported_on", _L_REPORTED_ON)):
        try:
            dates[key] = _date(data.get(key), label)
        except ValidationError as exc:
            errors[key] = exc.messages
    quantity = density = piece = None
    try:
        quantity = _decimal(data.get("quantity_entered"), _L_QUANTITY)
        if quantity is None and data.get("quantity_kg") not in (None, ""):
            quantity, unit = _decimal(data.get("quantity_kg"), _L_QUANTITY), QuantityUnit.KG
        density = _decimal(data.get("density_kg_per_l"), _L_DENSITY)
        piece = _decimal(data.get("piece_mass_kg"), _L_PIECE)
        if quantity is None:
            raise ValidationError(_("请填写数量。"))
        if unit in _VOLUME_UNITS and density is None and chem is not None:
            density = chem.typical_density_kg_per_l
        quantity_kg = quantity_to_kg(quantity, unit, density_kg_per_l=density, piece_mass_kg=piece)
    except ValidationError as exc:
        errors["quantity_entered"] = exc.messages
    if errors:
        raise ValidationError(errors)
    permit_raw = _text(data.get("permit_number_raw"))
    permit = _text(data.get("permit_number")) or (normalize_number(permit_raw) if permit_raw else "")
    entry = LedgerEntry(
        enterprise_id=enterprise_id, chemical=chem, chemical_raw=_text(data.get("chemical_raw"))[:120],
        occurred_on=occurred_on, direction=direction, quantity_kg=quantity_kg, quantity_entered=quantity,
        unit_entered=unit, density_kg_per_l=density if unit in _VOLUME_UNITS else None,
        piece_mass_kg=piece if unit == QuantityUnit.PIECE else None,
        counterparty_credit_code=_compact_code(data.get("counterparty_credit_code")),
        counterparty_name=_text(data.get("counterparty_name")), document_number=_text(data.get("document_number")),
        permit_number=permit, permit_number_raw=permit_raw,
        transport_permit_number=_text(data.get("transport_permit_number")), purpose=_text(data.get("purpose")),
        expires_on=dates.get("expires_on"), reported_on=dates.get("reported_on"), source=source,
        import_batch=import_batch, recorded_by=_actor(user),
    )
    entry.clean_fields(exclude=_ENTRY_CHECKED_EXCLUDE)
    return entry


def _link_counterparties(entries: Sequence[LedgerEntry]) -> None:
    """Set ``counterparty`` on entries whose credit code (or legacy code) names a Jindu
    enterprise; one query per 500 distinct codes."""
    codes = sorted({e.counterparty_credit_code for e in entries if e.counterparty_credit_code})
    if not codes:
        return
    found: dict[str, int] = {}
    for i in range(0, len(codes), 500):
        chunk = codes[i:i + 500]
        for pk, credit, legacy in Enterprise.objects.filter(
                Q(credit_code__in=chunk) | Q(legacy_code__in=chunk)).values_list("pk", "credit_code", "legacy_code"):
            if credit:
                found[credit] = pk
            if legacy:
                found.setdefault(legacy, pk)
    for e in entries:
        if e.counterparty_credit_code in found:
            e.counterparty_id = found[e.counterparty_credit_code]


def _lock_balances(pairs: Iterable[tuple[int, int]]) -> dict[tuple[int, int], StockBalance]:
    """The balance rows of ``pairs`` (enterprise_id, chemical_id), created when missing and
    locked ``FOR UPDATE`` in (enterprise_id, chemical_id) order, the order every posting
    uses, so concurrent postings queue instead of deadlocking."""
    pairs = sorted(set(pairs))
    if not pairs:
        return {}
    if len(pairs) == 1:
        ent, chem = pairs[0]
        StockBalance.objects.get_or_create(enterprise_id=ent, chemical_id=chem)
        row = StockBalance.objects.select_for_update().get(enterprise_id=ent, chemical_id=chem)
        return {pairs[0]: row}
    by_enterprise: dict[int, set[int]] = {}
    for ent, chem in pairs:
        by_enterprise.setdefault(ent, set()).add(chem)
    ent_ids = sorted(by_enterprise)
    wanted = set(pairs)
    # Create missing rows first (ignore_conflicts: a concurrent posting may create one too).
    for i in range(0, len(ent_ids), _LOCK_CHUNK):
        chunk = ent_ids[i:i + _LOCK_CHUNK]
        chems = sorted(set().union(*(by_enterprise[e] for e in chunk)))
        have = set(StockBalance.objects.filter(enterprise_id__in=chunk, chemical_id__in=chems)
                   .values_list("enterprise_id", "chemical_id"))
        missing = [StockBalance(enterprise_id=e, chemical_id=c) for e in chunk for c in sorted(by_enterprise[e])
                   if (e, c) not in have]
        if missing:
            StockBalance.objects.bulk_create(missing, batch_size=BULK_BATCH_SIZE, ignore_conflicts=True)
    locked: dict[tuple[int, int], StockBalance] = {}
    for i in range(0, len(ent_ids), _LOCK_CHUNK):
        chunk = ent_ids[i:i + _LOCK_CHUNK]
        chems = sorted(set().union(*(by_enterprise[e] for e in chunk)))
        rows = (StockBalance.objects.select_for_update()
                .filter(enterprise_id__in=chunk, chemical_id__in=chems).order_by("enterprise_id", "chemical_id"))
        for row in rows:
            key = (row.enterprise_id, row.chemical_id)
            if key in wanted:
                locked[key] = row
    return locked


def _kg(value: Decimal | None) -> str:
    """Kilograms as the pages show them ("108", not "108.000"): the pages' own helper,
    imported here so that messages and pages never disagree."""
    from jindu.precursors.tables import kg_text

    return kg_text(value)


def _negative_message(entry: LedgerEntry, balance: Decimal) -> str:
    return _("%(chemical)s 当前结存 %(balance)s 千克，本次%(direction)s %(qty)s 千克，结存将为负数，已拒绝"
             "（《易制毒化学品管理条例》第十八、十九条：台账须如实记录）。") % {
        "chemical": entry.chemical.name_zh, "balance": _kg(balance), "direction": entry.get_direction_display(),
        "qty": _kg(entry.quantity_kg)}


def _apply_to_balances(entries: Sequence[LedgerEntry], row_numbers: Sequence[int]) -> tuple[
        dict[tuple[int, int], StockBalance], list[tuple[int, str]]]:
    """Lock the balances of ``entries``, run them in input order setting
    ``balance_after_kg``; returns the locked rows (with new quantities) and the errors of
    outbound entries that would make a balance negative."""
    balances = _lock_balances((e.enterprise_id, e.chemical_id) for e in entries)
    running = {key: row.quantity_kg for key, row in balances.items()}
    errors = []
    for entry, n in zip(entries, row_numbers):
        key = (entry.enterprise_id, entry.chemical_id)
        delta = _signed(entry.direction, entry.quantity_kg)
        new = running[key] + delta
        if delta < 0 and new < 0:
            errors.append((n, _negative_message(entry, running[key])))
        running[key] = new
        entry.balance_after_kg = new
    now = timezone.now()
    for key, row in balances.items():
        row.quantity_kg = running[key]
        row.updated_at = now
    return balances, errors


def _save_balances(balances: Mapping[tuple[int, int], StockBalance]) -> None:
    rows = list(balances.values())
    if len(rows) == 1:
        rows[0].save(update_fields=["quantity_kg", "updated_at"])
    elif rows:
        StockBalance.objects.bulk_update(rows, ["quantity_kg", "updated_at"], batch_size=500)


def _entry_changes(entry: LedgerEntry) -> dict[str, Any]:
    return {
        "enterprise": entry.enterprise_id, "chemical": entry.chemical.name_zh, "direction": entry.direction,
        "occurred_on": str(entry.occurred_on), "quantity_kg": str(entry.quantity_kg),
        "quantity_entered": _plain(entry.quantity_entered), "unit_entered": entry.unit_entered,
        "balance_after_kg": str(entry.balance_after_kg), "counterparty": entry.counterparty_id,
        "counterparty_credit_code": entry.counterparty_credit_code, "source": entry.source,
    }


def post_entry(*, user: Any, enterprise: Enterprise, data: Mapping[str, Any], source: str = EntrySource.MANUAL,
               import_batch: Any = None) -> LedgerEntry:
    """Post one stock-ledger entry (Regulation arts. 18–19: sales and use ledgers).

    ``data`` has the keys of :data:`ENTRY_FIELDS`: ``chemical`` (Chemical or pk),
    ``occurred_on`` (date or ISO text, not after today), ``direction``
    (:class:`Direction`), ``quantity_entered`` with ``unit_entered`` (t/kg/g; L/mL with
    ``density_kg_per_l`` or the chemical's ``typical_density_kg_per_l``; piece with
    ``piece_mass_kg``), converted by :func:`jindu.precursors.units.quantity_to_kg` to
    ``quantity_kg`` (Decimal, to the gram). A ``counterparty_credit_code`` naming a Jindu
    enterprise links ``counterparty``.

    The balance row (enterprise × chemical) is created if missing and locked ``FOR
    UPDATE``; an outbound entry (out, used, destroyed, loss) that would make it negative is
    refused. ``balance_after_kg`` is the balance after this posting. The entry's month in
    the summary :class:`~jindu.precursors.models.LedgerMonth` is updated in the same
    transaction (by :meth:`LedgerEntry.save`).

    Raises ``PermissionDenied`` when ``user`` may not add ledger entries for this
    enterprise (an enterprise user posting for another enterprise), ``ValidationError``
    (Chinese, naming chemical, balance and quantity for a negative balance). Nothing is
    written then. One ``precursors.entry_posted`` event.
    """
    with transaction.atomic():
        _require_enterprise(user, LedgerEntry, ADD, enterprise)
        entry = _build_entry(enterprise.pk, data, source=source, import_batch=import_batch, user=user)
        _link_counterparties([entry])
        balances, errors = _apply_to_balances([entry], [1])
        if errors:
            raise ValidationError(errors[0][1])
        entry.save()
        _save_balances(balances)
        if user is not None:
            ensure_in_scope(entry, user=user, action=ADD)
        record_event(action="precursors.entry_posted", target=entry, actor=_actor(user), changes=_entry_changes(entry))
    return entry


def post_entries(*, user: Any, rows: Iterable[Mapping[str, Any]], source: str, import_batch: Any = None) -> int:
    """Post many ledger entries at once (imports, demo data, bench); all or nothing.

    Each row is a mapping with ``enterprise`` (Enterprise or pk) and the keys of
    :data:`ENTRY_FIELDS` (``quantity_kg`` may stand in for a quantity entered in kg), and
    optionally ``row_number`` (the file's line, used in messages; else the 1-based
    position). Steps, in one transaction: validate every row; check ``user`` may add
    ledger entries at every enterprise named (one query per 500 enterprises); lock the
    balance rows in (enterprise_id, chemical_id) order; run the rows in input order
    computing each ``balance_after_kg``; refuse the whole batch when any row is invalid or
    any outbound would make a balance negative; ``bulk_create`` in batches of
    :data:`BULK_BATCH_SIZE`; update the balances and the monthly summary
    (:func:`jindu.precursors.reconciliation.months.add_entries`). Existing ledger rows are
    never read, only balance and summary rows (except the months of back-dated rows, summed
    again through the pair index). The unsaved entries are held in memory: callers with millions of
    rows call this once per file or chunk.

    Returns the number of entries posted. Raises :class:`PostingError` (a
    ``ValidationError`` with ``rows``: ``[(row_number, Chinese message)]``). One
    ``precursors.entries_posted`` event for the batch.
    """
    entries: list[LedgerEntry] = []
    numbers: list[int] = []
    errors: list[tuple[int, str]] = []
    chemicals: dict[int, Chemical] = {c.pk: c for c in Chemical.objects.all()}
    today = local_today()
    with transaction.atomic():
        row_enterprise: list[int] = []
        for position, row in enumerate(rows, start=1):
            n = row.get("row_number") or position
            ent = row.get("enterprise")
            ent_id = getattr(ent, "pk", ent)
            if ent_id in (None, ""):
                errors.append((n, _("未指定企业。")))
                continue
            try:
                entry = _build_entry(int(ent_id), row, source=source, import_batch=import_batch, user=user,
                                     chemicals=chemicals, today=today)
            except ValidationError as exc:
                errors.extend((n, m) for m in _messages(exc, LedgerEntry))
                continue
            entries.append(entry)
            numbers.append(n)
            row_enterprise.append(int(ent_id))
        ent_ids = set(row_enterprise)
        existing = set()
        for chunk_start in range(0, len(ent_ids), _LOCK_CHUNK):
            chunk = sorted(ent_ids)[chunk_start:chunk_start + _LOCK_CHUNK]
            existing.update(Enterprise.objects.filter(pk__in=chunk).values_list("pk", flat=True))
        allowed = _allowed_enterprise_ids(user, LedgerEntry, ADD, existing)
        for ent_id, n in zip(row_enterprise, numbers):
            if ent_id not in allowed:
                errors.append((n, _("企业不存在或不在您的管辖范围内。")))
        if errors:
            if all(isinstance(n, int) for n, _m in errors):
                errors.sort(key=lambda e: e[0])
            raise PostingError(errors)
        if not entries:
            return 0
        _link_counterparties(entries)
        balances, negative = _apply_to_balances(entries, numbers)
        if negative:
            raise PostingError(negative)
        LedgerEntry.objects.bulk_create(entries, batch_size=BULK_BATCH_SIZE)
        _save_balances(balances)
        # bulk_create bypasses LedgerEntry.save(): the monthly summary is kept here.
        ledger_months.add_entries(entries)
        record_event(action="precursors.entries_posted", target=import_batch, actor=_actor(user), changes={
            "rows": len(entries), "source": source, "enterprises": len(ent_ids), "balances": len(balances),
            "first_entry": entries[0].pk, "last_entry": entries[-1].pk,
        })
    return len(entries)


#: The action (permission ``precursors.void_own_ledgerentry``) under which an enterprise's
#: own users void entries of their enterprise (:func:`void_entry`); supervisors void under
#: ``change``.
VOID_OWN = "void_own"


def voidable_entries(user: Any):
    """The ledger entries ``user`` may void: those within the user's ``change`` scope
    (supervisors) and those of the user's own enterprise (``void_own``). Whether an
    enterprise's void is still allowed (:func:`own_void_refusal`) is decided per entry."""
    either = None
    for action in (CHANGE, VOID_OWN):
        q = scope_q(LedgerEntry, user, action)
        if q == Q():
            return LedgerEntry.objects.all()
        if q is not None:
            either = q if either is None else either | q
    if either is None:
        return LedgerEntry.objects.none()
    # Through pk__in: OR-ing the enterprise-account join into the jurisdiction filter
    # would otherwise repeat an entry once per account of its enterprise.
    return LedgerEntry.objects.filter(pk__in=LedgerEntry.objects.filter(either).values("pk"))


def own_void_refusal(entry: LedgerEntry, *, today: date | None = None) -> str | None:
    """Why the enterprise may no longer void ``entry`` itself (Chinese), or ``None``.

    An enterprise corrects its own wrong entries only until a regulator relies on them:
    - while the entry is evidence of a discrepancy not yet closed (open or being worked),
      the regulator is checking it;
    - after the reporting window of its chemical's category has passed (Regulation art. 19:
      sales reported to the police within 5 days for Category 1, 30 days for Categories 2
      and 3, counted from ``occurred_on`` as :func:`jindu.precursors.rules.report_deadline`
      counts them; the last day to void is that deadline, a local date), the entry is what
      the enterprise has declared and the police may have acted on.
    A supervisor voids it then (the enterprise asks its regulator).
    """
    from jindu.precursors.rules import REPORT_DEADLINE_DAYS, report_deadline

    if Discrepancy.objects.filter(entries=entry, status__in=(DiscrepancyStatus.OPEN,
                                                               DiscrepancyStatus.IN_PROGRESS)).exists():
        # Neutral wording: an enterprise never learns that a discrepancy names its entry.
        return _("该台账已被监管部门引用，企业不能自行作废，请联系监管部门更正。")
    category = entry.chemical.category
    last_day = report_deadline(category, entry.occurred_on)
    if (today or local_today()) > last_day:
        return _("该台账发生于 %(d)s，已超过第%(c)s类易制毒化学品的报告时限（%(n)s日，截至 %(last)s；"
                 "《易制毒化学品管理条例》第十九条），企业不能自行作废，请联系监管部门更正。") % {
            "d": entry.occurred_on.isoformat(), "c": category, "n": REPORT_DEADLINE_DAYS[category],
            "last": last_day.isoformat()}
    return None


def void_entry(*, user: Any, entry: LedgerEntry, reason: str) -> LedgerEntry:
    """Void a wrong ledger entry (entries are never edited or deleted): its effect on the
    balance is reversed — voiding an inbound takes it off again (refused if that would make
    the balance negative), voiding an outbound puts it back. ``reason`` is required.

    Who: a supervisor with ``precursors.change_ledgerentry`` in scope, at any time; an
    enterprise's own user (``precursors.void_own_ledgerentry``, entries of their
    enterprise) as a correction of their own record, unless :func:`own_void_refusal`
    says a regulator relies on it (evidence of an open discrepancy, or past the
    reporting window). Raises ``PermissionDenied`` (out of scope: the entry is not
    reachable), ``ValidationError`` (already voided, no reason, negative balance, an
    enterprise's void refused). One ``precursors.entry_voided`` event (``by_enterprise``
    true for an enterprise's own void). The entry's month in
    :class:`~jindu.precursors.models.LedgerMonth` is summed again (by :meth:`LedgerEntry.save`).
    """
    reason = _text(reason)
    if not reason:
        raise ValidationError({"reason": _("请填写作废原因。")})
    with transaction.atomic():
        by_enterprise = False
        if user is not None and not LedgerEntry.objects.restrict(user, CHANGE).filter(pk=entry.pk).exists():
            _require_row(user, entry, VOID_OWN)
            by_enterprise = True
        balances = _lock_balances([(entry.enterprise_id, entry.chemical_id)])
        row = LedgerEntry.objects.select_for_update().select_related("chemical").get(pk=entry.pk)
        if row.voided_at is not None:
            raise ValidationError(_("该台账已于 %(t)s 作废。") % {
                "t": f"{timezone.localtime(row.voided_at):%Y-%m-%d %H:%M}"})
        if by_enterprise:
            refusal = own_void_refusal(row)
            if refusal:
                raise ValidationError(refusal)
        balance = balances[(row.enterprise_id, row.chemical_id)]
        delta = -_signed(row.direction, row.quantity_kg)
        new = balance.quantity_kg + delta
        if delta < 0 and new < 0:
            raise ValidationError(_("%(chemical)s 当前结存 %(balance)s 千克，作废这笔 %(qty)s 千克的入库后结存将为负数，"
                                    "请先作废其后的出库记录。") % {
                "chemical": row.chemical.name_zh, "balance": _kg(balance.quantity_kg), "qty": _kg(row.quantity_kg)})
        row.voided_at = timezone.now()
        row.void_reason = reason[:255]
        row.save(update_fields=["voided_at", "void_reason"])
        balance.quantity_kg = new
        balance.save(update_fields=["quantity_kg", "updated_at"])
        changes = {"quantity_kg": str(row.quantity_kg), "direction": row.direction,
                   "balance_kg": [str(new - delta), str(new)]}
        if by_enterprise:
            changes["by_enterprise"] = True
        record_event(action="precursors.entry_voided", target=row, actor=_actor(user), reason=reason,
                     changes=changes)
    return row


def ledger_balance_at(*, enterprise: Enterprise, chemical: Chemical, on: date) -> Decimal:
    """The ledger balance (kg) of ``chemical`` at ``enterprise`` at the end of ``on``: the
    signed sum of its non-voided entries with ``occurred_on`` ≤ ``on``, one aggregate query
    (the ledger is not read into Python)."""
    signed = Case(When(direction=Direction.IN, then=F("quantity_kg")), default=-F("quantity_kg"),
                  output_field=DecimalField(max_digits=18, decimal_places=3))
    total = LedgerEntry.objects.filter(enterprise=enterprise, chemical=chemical, occurred_on__lte=on,
                                       voided_at__isnull=True).aggregate(
        total=Coalesce(Sum(signed), Value(_ZERO), output_field=DecimalField(max_digits=18, decimal_places=3)))["total"]
    return Decimal(total).quantize(Decimal("0.001"))


def record_stock_count(*, user: Any, enterprise: Enterprise, chemical: Chemical, counted_on: date,
                       quantity_kg: Decimal, counted_by: str = "", note: str = "") -> StockCount:
    """Record a physical stock count (盘点) of ``chemical`` at ``enterprise`` on
    ``counted_on`` (not after today), ``quantity_kg`` ≥ 0. ``ledger_balance_kg`` is set to
    :func:`ledger_balance_at` that date; the difference is for the reconciliation's
    stock-count rule. One count per enterprise, chemical and date.

    Raises ``PermissionDenied`` (enterprise users count only their own stock),
    ``ValidationError`` (Chinese). One ``precursors.stock_count_recorded`` event.
    """
    counted_on = _date(counted_on, _("盘点日期"))
    quantity = _decimal(quantity_kg, _("实盘数量"))
    errors = {}
    if counted_on is None:
        errors["counted_on"] = _("请填写盘点日期。")
    elif counted_on > local_today():
        errors["counted_on"] = _("盘点日期 %(d)s 晚于今天。") % {"d": counted_on}
    if quantity is None or quantity < 0:
        errors["quantity_kg"] = _("实盘数量须为不小于 0 的数。")
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        _require_enterprise(user, StockCount, ADD, enterprise)
        if StockCount.objects.filter(enterprise=enterprise, chemical=chemical, counted_on=counted_on).exists():
            raise ValidationError({"counted_on": _("%(c)s 在 %(d)s 已有盘点记录。") % {"c": chemical, "d": counted_on}})
        count = StockCount(enterprise=enterprise, chemical=chemical, counted_on=counted_on,
                           quantity_kg=quantity.quantize(Decimal("0.001")),
                           ledger_balance_kg=ledger_balance_at(enterprise=enterprise, chemical=chemical, on=counted_on),
                           counted_by=_text(counted_by), note=_text(note))
        count.full_clean()
        _set_history_user(count, user)
        count.save()
        if user is not None:
            ensure_in_scope(count, user=user, action=ADD)
        record_event(action="precursors.stock_count_recorded", target=count, actor=_actor(user), changes={
            "chemical": chemical.name_zh, "counted_on": str(counted_on), "quantity_kg": str(count.quantity_kg),
            "ledger_balance_kg": str(count.ledger_balance_kg), "difference_kg": str(count.difference_kg)})
    return count


def record_destruction(*, user: Any, enterprise: Enterprise, data: Mapping[str, Any],
                       lines: Sequence[tuple[Chemical, Decimal]]) -> Destruction:
    """Record a witnessed destruction (``data``: ``destroyed_on`` (not after today),
    ``method``, ``place``, ``witnesses``, ``note``, ``witness_units``: iterable of
    ``org.Unit``) and post one ``destroyed`` ledger entry per line ``(chemical,
    quantity_kg)`` linked to it, each taken off the locked balance (refused if it would go
    negative).

    Raises ``PermissionDenied`` and ``ValidationError`` (Chinese; no lines, a duplicate
    chemical, a non-positive quantity, a negative balance); nothing is written then. One
    ``precursors.destruction_recorded`` event listing the entries.
    """
    if not lines:
        raise ValidationError({"lines": _("请至少填写一种销毁的品种和数量。")})
    values = {k: data[k] for k in DESTRUCTION_FIELDS if k in data}
    values["destroyed_on"] = _date(values.get("destroyed_on"), _("销毁日期"))
    if values["destroyed_on"] is None:
        raise ValidationError({"destroyed_on": _("请填写销毁日期。")})
    seen = set()
    for chemical, qty in lines:
        if chemical.pk in seen:
            raise ValidationError({"lines": _("品种“%(c)s”重复。") % {"c": chemical}})
        seen.add(chemical.pk)
    with transaction.atomic():
        _require_enterprise(user, Destruction, ADD, enterprise)
        _require_enterprise(user, LedgerEntry, ADD, enterprise)
        destruction = Destruction(enterprise=enterprise, **values)
        destruction.full_clean()
        entries = []
        for n, (chemical, qty) in enumerate(lines, start=1):
            try:
                entries.append(_build_entry(enterprise.pk, {
                    "chemical": chemical, "occurred_on": destruction.destroyed_on, "direction": Direction.DESTROYED,
                    "quantity_entered": qty, "unit_entered": QuantityUnit.KG, "purpose": _("销毁"),
                }, source=EntrySource.MANUAL, import_batch=None, user=user))
            except ValidationError as exc:
                raise ValidationError({"lines": [f"{chemical}：{m}" for m in _messages(exc, LedgerEntry)]}) from None
        balances, errors = _apply_to_balances(entries, list(range(1, len(entries) + 1)))
        if errors:
            raise ValidationError({"lines": [m for _n, m in errors]})
        _set_history_user(destruction, user)
        destruction.save()
        if data.get("witness_units") is not None:
            destruction.witness_units.set(data["witness_units"])
        for e in entries:
            e.destruction = destruction
            e.save()
        _save_balances(balances)
        if user is not None:
            ensure_in_scope(destruction, user=user, action=ADD)
        record_event(action="precursors.destruction_recorded", target=destruction, actor=_actor(user), changes={
            **_summary(destruction, DESTRUCTION_FIELDS),
            "lines": [[e.chemical.name_zh, str(e.quantity_kg), e.pk] for e in entries],
            "witness_units": sorted(destruction.witness_units.values_list("pk", flat=True)),
        })
    return destruction


# -- discrepancy workflow -----------------------------------------------------------------
def _discrepancy_for_change(user: Any, discrepancy: Discrepancy) -> None:
    _require_row(user, discrepancy, CHANGE)


def _discrepancy_event(action: str, row: Discrepancy, user: Any, before: Mapping[str, Any], fields: Iterable[str],
                       reason: str = "") -> None:
    after = _summary(row, fields)
    record_event(action=f"precursors.discrepancy_{action}", target=row, actor=_actor(user), reason=reason,
                 changes={k: [before[k], after[k]] for k in fields if before[k] != after[k]})


def assign_discrepancy(*, user: Any, discrepancy: Discrepancy, assignee: Any, deadline: date,
                       expected_version: int | None) -> Discrepancy:
    """Assign a discrepancy to ``assignee`` (who must be able to see it) with ``deadline``
    (a local date, not before today); an open one moves to "in progress". Refused when
    closed. Raises ``StaleEditError``, ``ValidationError``, ``PermissionDenied``. One
    ``precursors.discrepancy_assigned`` event."""
    deadline = _date(deadline, _("办理期限"))
    if deadline is None:
        raise ValidationError({"deadline": _("请填写办理期限。")})
    if deadline < local_today():
        raise ValidationError({"deadline": _("办理期限 %(d)s 早于今天。") % {"d": deadline}})
    if assignee is None or not Discrepancy.objects.restrict(assignee, VIEW).filter(pk=discrepancy.pk).exists():
        raise ValidationError({"assignee": _("承办人无权查看该问题，不能指派给其办理。")})
    fields = ("assignee", "deadline", "status")
    with transaction.atomic():
        _discrepancy_for_change(user, discrepancy)
        stored = Discrepancy.objects.select_for_update().get(pk=discrepancy.pk)
        if stored.status == DiscrepancyStatus.CLOSED:
            raise ValidationError(_("该问题已办结，请先重新打开。"))
        before = _summary(stored, fields)
        _set_history_user(stored, user)
        updated, changed = update_versioned(stored, user=user, fields=fields, expected_version=expected_version, data={
            "assignee": assignee, "deadline": deadline, "status": DiscrepancyStatus.IN_PROGRESS})
        if changed:
            _discrepancy_event("assigned", updated, user, before, fields)
    return updated


def record_discrepancy_work(*, user: Any, discrepancy: Discrepancy, notes: str,
                            expected_version: int | None) -> Discrepancy:
    """Append a dated note of the checking done (``work_notes``); an open discrepancy
    moves to "in progress". Refused when closed or the note is empty. One
    ``precursors.discrepancy_worked`` event."""
    notes = _text(notes)
    if not notes:
        raise ValidationError({"notes": _("请填写核查情况。")})
    with transaction.atomic():
        _discrepancy_for_change(user, discrepancy)
        stored = Discrepancy.objects.select_for_update().get(pk=discrepancy.pk)
        if stored.status == DiscrepancyStatus.CLOSED:
            raise ValidationError(_("该问题已办结，请先重新打开。"))
        who = str(user) if _actor(user) else _("系统")  # the person's name, as "closed by" shows it
        line = f"[{local_now():%Y-%m-%d %H:%M} {who}] {notes}"
        _set_history_user(stored, user)
        notes_after = (stored.work_notes + "\n" if stored.work_notes else "") + line
        updated, _changed = update_versioned(stored, user=user, fields=("work_notes", "status"),
                                             expected_version=expected_version,
                                             data={"work_notes": notes_after, "status": DiscrepancyStatus.IN_PROGRESS})
        record_event(action="precursors.discrepancy_worked", target=updated, actor=_actor(user),
                     changes={"note": notes, "status": updated.status})
    return updated


def close_discrepancy(*, user: Any, discrepancy: Discrepancy, resolution: str, note: str, case_number: str = "",
                      expected_version: int | None) -> Discrepancy:
    """Close a discrepancy with a :class:`Resolution` (explained, corrected, rectified,
    referred) and an explanation; ``referred`` (移交立案) needs the case number. Refused
    when already closed. One ``precursors.discrepancy_closed`` event."""
    note, case_number = _text(note), _text(case_number)
    errors = {}
    if resolution not in Resolution.values:
        errors["resolution"] = _("请选择办结方式。")
    if not note:
        errors["note"] = _("请填写办结说明。")
    if resolution == Resolution.REFERRED and not case_number:
        errors["case_number"] = _("移交立案的须填写案件编号。")
    if errors:
        raise ValidationError(errors)
    fields = ("status", "resolution", "resolution_note", "case_number", "closed_at", "closed_by")
    with transaction.atomic():
        _discrepancy_for_change(user, discrepancy)
        stored = Discrepancy.objects.select_for_update().get(pk=discrepancy.pk)
        if stored.status == DiscrepancyStatus.CLOSED:
            raise ValidationError(_("该问题已办结。"))
        before = _summary(stored, fields)
        _set_history_user(stored, user)
        updated, _changed = update_versioned(stored, user=user, fields=fields, expected_version=expected_version, data={
            "status": DiscrepancyStatus.CLOSED, "resolution": resolution, "resolution_note": note,
            "case_number": case_number if resolution == Resolution.REFERRED else "",
            "closed_at": timezone.now(), "closed_by": _actor(user)})
        _discrepancy_event("closed", updated, user, before, fields)
    return updated


def reopen_discrepancy(*, user: Any, discrepancy: Discrepancy, reason: str,
                       expected_version: int | None) -> Discrepancy:
    """Reopen a closed discrepancy with ``reason`` (required, appended to the work notes):
    back to "in progress" when it has an assignee, else "open"; the resolution is cleared
    (history keeps it). One ``precursors.discrepancy_reopened`` event."""
    reason = _text(reason)
    if not reason:
        raise ValidationError({"reason": _("请填写重新打开的原因。")})
    fields = ("status", "resolution", "resolution_note", "case_number", "closed_at", "closed_by", "work_notes")
    with transaction.atomic():
        _discrepancy_for_change(user, discrepancy)
        stored = Discrepancy.objects.select_for_update().get(pk=discrepancy.pk)
        if stored.status != DiscrepancyStatus.CLOSED:
            raise ValidationError(_("该问题未办结，无需重新打开。"))
        before = _summary(stored, fields)
        who = str(user) if _actor(user) else _("系统")  # the person's name, as "closed by" shows it
        line = _("[%(t)s %(who)s] 重新打开：%(r)s") % {"t": f"{local_now():%Y-%m-%d %H:%M}", "who": who, "r": reason}
        _set_history_user(stored, user)
        updated, _changed = update_versioned(stored, user=user, fields=fields, expected_version=expected_version, data={
            "status": DiscrepancyStatus.IN_PROGRESS if stored.assignee_id else DiscrepancyStatus.OPEN,
            "resolution": "", "resolution_note": "", "case_number": "", "closed_at": None, "closed_by": None,
            "work_notes": (stored.work_notes + "\n" if stored.work_notes else "") + line})
        _discrepancy_event("reopened", updated, user, before, fields, reason=reason)
    return updated
