"""Writes of the inspection engine: targets, checklist profiles and revisions, inspections
with their item results, and hazards from rectification to closure.

Every function is keyword-only, runs in one transaction, validates (``full_clean``),
re-reads what it wrote through the acting user's scope (rolling back if it left it) and
writes exactly one audit event ``inspections.<thing>_<verb>``. Pages, the API, imports
and other apps (the precursors app registers its enterprises as targets through
:func:`register_external_target`) all call these.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Iterable, Mapping, Sequence

from django.apps import apps
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from jindu.core.audit import record_event
from jindu.core.scope import ADD, CHANGE, VIEW, grant_roots, permission_name
from jindu.core.services import ensure_in_scope, update_versioned
from jindu.core.timeutils import local_now
from jindu.inspections.choices import KIND_CATEGORY, HazardStatus, ItemOutcome, TargetKind
from jindu.inspections.models import ChecklistItem, ChecklistTemplate, Hazard, Inspection, ItemResult, Target
from jindu.inspections.rules import default_deadline, scorecard

TARGET_FIELDS = (
    "kind", "name", "division", "address", "longitude", "latitude", "licence_number", "operator_name",
    "operator_phone", "status", "note",
)
TEMPLATE_FIELDS = ("name", "category", "source", "description", "pass_score_pct", "rectification_days")
ITEM_FIELDS = ("code", "text", "points", "required", "basis")
# Recording an inspection dated ahead of now is refused; a few minutes of clock skew between
# a phone and the server are tolerated.
FUTURE_TOLERANCE = timedelta(minutes=10)


def _plain(value: Any) -> Any:
    if hasattr(value, "pk"):
        return value.pk
    if isinstance(value, (Decimal, date, datetime)):
        return str(value)
    return value


def _summary(obj: Any, fields: Iterable[str]) -> dict[str, Any]:
    return {f: _plain(getattr(obj, f)) for f in fields}


def _set_history_user(obj: Any, user: Any) -> None:
    obj._history_user = user if getattr(user, "is_authenticated", False) else None


# -- targets ------------------------------------------------------------------------------
def create_target(*, user: Any, data: Mapping[str, Any]) -> Target:
    """Register a target from ``data`` (keys of :data:`TARGET_FIELDS`).

    Raises ``ValidationError`` (field-named Chinese messages) and ``PermissionDenied``
    when the target would lie outside where ``user`` may add targets; nothing is written
    then. Writes one ``inspections.target_created`` event.
    """
    with transaction.atomic():
        target = Target(**{k: v for k, v in data.items() if k in TARGET_FIELDS})
        target.full_clean()
        _set_history_user(target, user)
        target.save()
        ensure_in_scope(target, user=user, action=ADD)
        record_event(action="inspections.target_created", target=target, actor=user,
                     changes=_summary(target, TARGET_FIELDS))
    return target


def update_target(*, user: Any, target: Target, data: Mapping[str, Any],
                  expected_version: int | None) -> tuple[Target, bool]:
    """Apply ``data`` (keys of :data:`TARGET_FIELDS`) if the stored version is still
    ``expected_version``. Returns ``(target, changed)``.

    Raises :class:`~jindu.core.models.StaleEditError` (someone saved meanwhile),
    ``ValidationError`` and ``PermissionDenied`` (the edit would move the target out of
    the user's scope); nothing is written then. One ``inspections.target_updated`` event
    when anything changed.
    """
    with transaction.atomic():
        stored = Target.objects.select_for_update().get(pk=target.pk)
        before = _summary(stored, TARGET_FIELDS)
        candidate = Target.objects.get(pk=stored.pk)
        for k, v in data.items():
            if k in TARGET_FIELDS:
                setattr(candidate, k, v)
        candidate.full_clean()
        _set_history_user(stored, user)
        updated, changed = update_versioned(stored, user=user, data=data, fields=TARGET_FIELDS,
                                            expected_version=expected_version)
        if changed:
            after = _summary(updated, TARGET_FIELDS)
            record_event(action="inspections.target_updated", target=updated, actor=user,
                         changes={k: [before[k], after[k]] for k in TARGET_FIELDS if before[k] != after[k]})
    return updated, changed


def delete_target(*, user: Any, target: Target, reason: str = "") -> None:
    """Delete a target registered by mistake. Raises ``PermissionDenied`` outside the
    user's ``inspections.delete_target`` scope and ``ProtectedError`` once it has
    inspections (set its status to closed instead). One ``inspections.target_deleted``."""
    from jindu.core.scope import DELETE

    with transaction.atomic():
        row = Target.objects.restrict(user, DELETE).filter(pk=target.pk).first()
        if row is None:
            raise PermissionDenied(_("该检查对象不在您的管辖范围内。"))
        record_event(action="inspections.target_deleted", target=row, actor=user, reason=reason,
                     changes=_summary(row, TARGET_FIELDS))
        _set_history_user(row, user)
        row.delete()


def register_external_target(
    *, user: Any, source_model: str, source_key: str | int, kind: str, data: Mapping[str, Any]
) -> tuple[Target, bool]:
    """Create or update the target mirroring another app's record (e.g. the precursors
    app's ``"precursors.Enterprise"`` with its primary key), so it can be inspected.

    ``kind`` is a :class:`~jindu.inspections.choices.TargetKind` value
    (``precursor_enterprise`` for enterprises); ``data`` holds :data:`TARGET_FIELDS`
    (``name`` and ``division`` required on creation). Returns ``(target, created)``.
    ``user`` is the acting user (scope re-checked as for :func:`create_target`), or
    ``None`` for system loaders and demo data (no scope check). Writes one
    ``inspections.target_registered`` event when something changed.
    Raises ``ValidationError`` for an unknown kind or bad fields.
    """
    if kind not in TargetKind.values:
        raise ValidationError({"kind": _("未知的检查对象类型“%(v)s”。") % {"v": kind}})
    source_key = str(source_key)
    with transaction.atomic():
        target = Target.objects.select_for_update().filter(source_model=source_model, source_key=source_key).first()
        created = target is None
        before = {} if created else _summary(target, TARGET_FIELDS)
        if created:
            target = Target(source_model=source_model, source_key=source_key)
        target.kind = kind
        for k, v in data.items():
            if k in TARGET_FIELDS and k != "kind":
                setattr(target, k, v)
        after = _summary(target, TARGET_FIELDS)
        if not created and after == before:
            return target, False
        target.full_clean()
        if not created:
            target.version += 1
        _set_history_user(target, user)
        target.save()
        if user is not None:
            ensure_in_scope(target, user=user, action=ADD if created else CHANGE)
        record_event(action="inspections.target_registered", target=target, actor=user,
                     changes={"source": f"{source_model}:{source_key}", "created": created,
                              **{k: [before.get(k), after[k]] for k in TARGET_FIELDS if before.get(k) != after[k]}})
    return target, created


# -- checklist profiles -----------------------------------------------------------------------
def can_edit_checklists(user: Any) -> bool:
    """Checklists are city-wide configuration: revising one needs
    ``inspections.change_checklisttemplate`` held for a whole city or more (a grant rooted
    at the city, province or country), so a town office cannot change what every
    inspector in the city checks."""
    roots = grant_roots(user, permission_name(ChecklistTemplate, CHANGE))
    if roots is None:
        return True
    return any(root.count("/") <= 2 for root in roots)


def _check_editor(user: Any) -> None:
    if not can_edit_checklists(user):
        raise PermissionDenied(_("检查清单为全市统一配置，只有市级及以上具有修改权限的用户可以修改。"))


def _clean_items(items: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    if not items:
        raise ValidationError({"items": _("检查清单至少需要一个检查条目。")})
    cleaned, seen = [], set()
    for n, raw in enumerate(items, start=1):
        row = {k: raw.get(k) for k in ITEM_FIELDS if k in raw}
        code = str(row.get("code") or "").strip()
        if not code:
            raise ValidationError({"items": _("第 %(n)d 条：条目代码不能为空。") % {"n": n}})
        if code in seen:
            raise ValidationError({"items": _("第 %(n)d 条：条目代码“%(c)s”重复。") % {"n": n, "c": code}})
        seen.add(code)
        row["code"] = code
        row["points"] = Decimal(str(row.get("points") if row.get("points") not in (None, "") else "1"))
        row["required"] = bool(row.get("required"))
        row["text"] = str(row.get("text") or "").strip()
        row["basis"] = str(row.get("basis") or "").strip()
        cleaned.append(row)
    return cleaned


def _write_items(template: ChecklistTemplate, items: list[dict[str, Any]], user: Any) -> None:
    for seq, row in enumerate(items, start=1):
        item = ChecklistItem(template=template, seq=seq, **row)
        try:
            item.full_clean(exclude=["template"])
        except ValidationError as exc:
            messages = "；".join(f"{ChecklistItem._meta.get_field(f).verbose_name}：{'，'.join(m)}"
                                for f, m in exc.message_dict.items())
            raise ValidationError({"items": _("第 %(n)d 条：%(m)s") % {"n": seq, "m": messages}}) from None
        _set_history_user(item, user)
        item.save()


def _template_summary(t: ChecklistTemplate) -> dict[str, Any]:
    return {"code": t.code, "revision": t.revision, **_summary(t, TEMPLATE_FIELDS),
            "items": [{"code": i.code, "text": i.text, "points": str(i.points), "required": i.required}
                      for i in t.items.order_by("seq")]}


def create_template(*, user: Any, code: str, data: Mapping[str, Any],
                    items: Sequence[Mapping[str, Any]]) -> ChecklistTemplate:
    """A new checklist profile ``code`` (revision 1) with ``items`` (dicts of
    :data:`ITEM_FIELDS`, in order). Raises ``ValidationError`` (code taken, no items,
    duplicate item codes, bad fields) or ``PermissionDenied`` (see
    :func:`can_edit_checklists`). One ``inspections.template_created`` event."""
    _check_editor(user)
    rows = _clean_items(items)
    with transaction.atomic():
        if ChecklistTemplate.objects.filter(code=code).exists():
            raise ValidationError({"code": _("清单代码“%(c)s”已被使用。") % {"c": code}})
        template = ChecklistTemplate(code=code, revision=1, **{k: v for k, v in data.items() if k in TEMPLATE_FIELDS})
        template.full_clean()
        _set_history_user(template, user)
        template.save()
        _write_items(template, rows, user)
        record_event(action="inspections.template_created", target=template, actor=user,
                     changes=_template_summary(template))
    return template


def revise_template(
    *, user: Any, template: ChecklistTemplate, data: Mapping[str, Any], items: Sequence[Mapping[str, Any]],
    expected_version: int | None, note: str = "",
) -> ChecklistTemplate:
    """Edit a checklist profile by creating its next revision; returns the new revision.

    ``template`` must be the profile's current revision and still at
    ``expected_version`` (else :class:`~jindu.core.models.StaleEditError`). The old
    revision stays, no longer current, with every inspection recorded against it; the
    new one takes over ``is_default``. Raises ``ValidationError`` when nothing changed or
    for bad fields, ``PermissionDenied`` (see :func:`can_edit_checklists`). One
    ``inspections.template_revised`` event.
    """
    from jindu.core.models import StaleEditError

    _check_editor(user)
    rows = _clean_items(items)
    with transaction.atomic():
        old = ChecklistTemplate.objects.select_for_update().get(pk=template.pk)
        if expected_version is not None and old.version != expected_version:
            raise StaleEditError(expected_version, old.version)
        if not old.is_current:
            raise ValidationError(_("只能修订现行版本（第 %(r)d 版已被新版本取代）。") % {"r": old.revision})
        before = _template_summary(old)
        fields = {k: getattr(old, k) for k in TEMPLATE_FIELDS}
        fields.update({k: v for k, v in data.items() if k in TEMPLATE_FIELDS})
        if fields["category"] != old.category and old.is_default:
            raise ValidationError({"category": _("默认清单不能改变适用对象，请先将其他清单设为默认。")})
        new_items = [{**r, "points": str(r["points"])} for r in rows]
        old_items = [{k: (str(v) if k == "points" else v) for k, v in i.items()}
                     for i in old.items.order_by("seq").values(*ITEM_FIELDS)]
        unchanged = all(_plain(fields[k]) == _plain(getattr(old, k)) for k in TEMPLATE_FIELDS)
        if unchanged and new_items == [{k: (str(Decimal(v)) if k == "points" else v) for k, v in r.items()}
                                       for r in old_items]:
            raise ValidationError(_("清单内容没有变化，未生成新版本。"))
        was_default = old.is_default
        old.is_current = False
        old.is_default = False
        old.version += 1
        _set_history_user(old, user)
        old.save()
        new = ChecklistTemplate(code=old.code, revision=old.revision + 1, supersedes=old, is_current=True,
                                is_default=was_default, revision_note=(note or "").strip()[:255], **fields)
        new.full_clean()
        _set_history_user(new, user)
        new.save()
        _write_items(new, rows, user)
        record_event(action="inspections.template_revised", target=new, actor=user, reason=note,
                     changes={"before": before, "after": _template_summary(new)})
    return new


def set_default_template(*, user: Any, template: ChecklistTemplate) -> ChecklistTemplate:
    """Make the current revision ``template`` the profile offered first for its category
    (the switch between "三个100%", "五个100% A/B"…). Raises ``ValidationError`` for a
    superseded revision, ``PermissionDenied`` (see :func:`can_edit_checklists`).
    One ``inspections.template_default_set`` event."""
    _check_editor(user)
    with transaction.atomic():
        chosen = ChecklistTemplate.objects.select_for_update().get(pk=template.pk)
        if not chosen.is_current:
            raise ValidationError(_("只能将现行版本设为默认清单。"))
        previous = list(ChecklistTemplate.objects.select_for_update().filter(
            category=chosen.category, is_current=True, is_default=True).exclude(pk=chosen.pk))
        for t in previous:
            t.is_default = False
            t.version += 1
            _set_history_user(t, user)
            t.save()
        if not chosen.is_default:
            chosen.is_default = True
            chosen.version += 1
            _set_history_user(chosen, user)
            chosen.save()
        record_event(action="inspections.template_default_set", target=chosen, actor=user,
                     changes={"category": chosen.category, "code": chosen.code,
                              "previous": [t.code for t in previous]})
    return chosen


def ensure_checklist_profiles(profiles: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """Bring shipped checklist profiles into the database (system action, idempotent).

    ``profiles``: dicts with ``code``, ``name``, ``category``, ``source``, optional
    ``description``, ``pass_score_pct``, ``rectification_days``, ``default`` and
    ``items`` (dicts of :data:`ITEM_FIELDS`). A missing profile is created; a profile whose
    current revision is still the shipped one gets a new shipped revision when its content
    changed; a profile revised by a user is left alone. ``default`` is honoured only when
    the category has no default yet. Returns ``{"created": n, "revised": n}``; writes one
    ``inspections.checklists_loaded`` event when anything was written.
    """
    created = revised = 0
    with transaction.atomic():
        for p in profiles:
            fields = {
                "name": p["name"], "category": p["category"], "source": p["source"],
                "description": p.get("description", ""),
                "pass_score_pct": Decimal(str(p.get("pass_score_pct", "100"))),
                "rectification_days": int(p.get("rectification_days", 7)),
            }
            rows = _clean_items(p["items"])
            current = ChecklistTemplate.objects.select_for_update().filter(code=p["code"], is_current=True).first()
            if current is None:
                if ChecklistTemplate.objects.filter(code=p["code"]).exists():
                    continue  # every revision retired on purpose
                has_default = ChecklistTemplate.objects.filter(
                    category=fields["category"], is_current=True, is_default=True).exists()
                t = ChecklistTemplate.objects.create(code=p["code"], revision=1, is_builtin=True, is_current=True,
                                                     is_default=bool(p.get("default")) and not has_default, **fields)
                _write_items(t, rows, None)
                created += 1
                continue
            if not current.is_builtin:
                continue
            same = all(getattr(current, k) == v for k, v in fields.items()) and [
                (i.code, i.text, i.points, i.required, i.basis) for i in current.items.order_by("seq")
            ] == [(r["code"], r["text"], r["points"], r["required"], r["basis"]) for r in rows]
            if same:
                continue
            was_default = current.is_default
            current.is_current = False
            current.is_default = False
            current.version += 1
            current.save()
            t = ChecklistTemplate.objects.create(
                code=current.code, revision=current.revision + 1, supersedes=current, is_builtin=True,
                is_current=True, is_default=was_default, revision_note="系统内置清单更新", **fields)
            _write_items(t, rows, None)
            revised += 1
        if created or revised:
            record_event(action="inspections.checklists_loaded", target=None, actor=None,
                         changes={"created": created, "revised": revised})
    return {"created": created, "revised": revised}


# -- inspections -----------------------------------------------------------------------------
def _visible_ids(model: Any, user: Any, ids: Iterable[int], label: str) -> list:
    wanted = {int(i) for i in ids}
    if not wanted:
        return []
    found = list(model._default_manager.restrict(user, VIEW).filter(pk__in=wanted))
    if len(found) != len(wanted):
        raise ValidationError({label: _("所选记录不存在或不在您的管辖范围内。")})
    return found


def campaign_model():
    """The enforcement app's campaign model (FK target of :attr:`Inspection.campaign`)."""
    return apps.get_model("enforcement", "Campaign")


def record_inspection(
    *,
    user: Any,
    target: Target,
    template: ChecklistTemplate,
    inspected_at: datetime,
    results: Mapping[int, tuple[str, str]],
    units: Iterable[Any] = (),
    inspectors: Iterable[Any] = (),
    campaign: Any = None,
    follow_up_of: Inspection | None = None,
    summary: str = "",
    hazard_deadline: date | None = None,
    extra_hazards: Sequence[str] = (),
    now: datetime | None = None,
) -> Inspection:
    """Record one inspection of ``target`` against the current checklist revision
    ``template`` and what follows from it.

    ``results`` maps every item id of ``template`` to ``(outcome, note)`` with outcome
    ``"pass"``/``"fail"``/``"na"``. ``units`` (org units of the joint team),
    ``inspectors`` (users; the recording user is always added) and ``campaign`` must be
    visible to ``user``. The scorecard (:func:`jindu.inspections.rules.scorecard`) is
    stored on the inspection. Each failed item becomes a hazard due on ``hazard_deadline``
    (default: the inspection's local date + the checklist's ``rectification_days``), as
    does each line of ``extra_hazards``.

    A re-inspection (``follow_up_of``: an earlier inspection of the same target) settles
    that inspection's unresolved hazards (open or rectified) item by item: the item now
    passes or is not applicable → the hazard is *verified* by this inspection; it fails
    again → the hazard goes back to *open* with the new deadline and no duplicate hazard
    is created. Hazards without an item are left for the office to settle.

    Raises ``ValidationError`` (missing or unknown items, nothing applicable, time in the
    future, checklist not current or for another kind of target, team members out of
    scope) or ``PermissionDenied`` (target outside where ``user`` may add inspections);
    nothing is written then. One ``inspections.inspection_recorded`` event.
    """
    now = now or timezone.now()
    if timezone.is_naive(inspected_at):
        raise ValidationError({"inspected_at": _("检查时间须包含时区。")})
    if inspected_at > now + FUTURE_TOLERANCE:
        raise ValidationError({"inspected_at": _("检查时间不能晚于当前时间。")})
    if not template.is_current:
        raise ValidationError({"template": _("“%(t)s”已被新版本取代，请使用现行版本。") % {"t": template}})
    if KIND_CATEGORY.get(target.kind) != template.category:
        raise ValidationError({"template": _("“%(t)s”不适用于%(k)s。") % {"t": template.name,
                                                                        "k": target.get_kind_display()}})
    items = {i.pk: i for i in template.items.all()}
    missing = [i for pk, i in items.items() if pk not in results]
    unknown = [pk for pk in results if pk not in items]
    if unknown:
        raise ValidationError({"results": _("提交了不属于该清单的条目：%(ids)s。") % {"ids": unknown}})
    if missing:
        names = "、".join(f"{i.seq}. {i.text}" for i in sorted(missing, key=lambda i: i.seq))
        raise ValidationError({"results": _("以下条目未填写结果：%(items)s。") % {"items": names}})
    for pk, (outcome, _note) in results.items():
        if outcome not in ItemOutcome.values:
            raise ValidationError({"results": _("第 %(n)d 条的结果“%(v)s”无效，应为合格、不合格或不适用。")
                                   % {"n": items[pk].seq, "v": outcome}})
    card = scorecard(((items[pk], results[pk][0]) for pk in sorted(items, key=lambda pk: items[pk].seq)),
                     template.pass_score_pct)
    if card.items_applicable == 0:
        raise ValidationError({"results": _("至少要有一个条目适用（合格或不合格）。")})
    if follow_up_of is not None and (follow_up_of.target_id != target.pk or follow_up_of.inspected_at >= inspected_at):
        raise ValidationError({"follow_up_of": _("复查只能针对同一检查对象此前的检查。")})
    extra = [line.strip() for line in extra_hazards if line and line.strip()]
    deadline = hazard_deadline or default_deadline(inspected_at, template.rectification_days)
    if hazard_deadline is not None and hazard_deadline < timezone.localtime(inspected_at).date():
        raise ValidationError({"hazard_deadline": _("整改期限不能早于检查日期。")})

    with transaction.atomic():
        Target.objects.select_for_update().filter(pk=target.pk).first()
        team_units = _visible_ids(apps.get_model("org", "Unit"), user, [u.pk for u in units], "units")
        people = {p.pk: p for p in _visible_ids(get_user_model(), user,
                                                [p.pk for p in inspectors if p.pk != getattr(user, "pk", None)],
                                                "inspectors")}
        if getattr(user, "is_authenticated", False):
            people[user.pk] = user
        if campaign is not None:
            _visible_ids(campaign_model(), user, [campaign.pk], "campaign")
        inspection = Inspection(
            target=target, template=template, inspected_at=inspected_at, campaign=campaign,
            follow_up_of=follow_up_of, summary=(summary or "").strip(), passed=card.passed,
            score_pct=card.score_pct, items_passed=card.items_passed, items_failed=card.items_failed,
            items_na=card.items_na, required_failed=len(card.required_failed),
            recorded_by=user if getattr(user, "is_authenticated", False) else None,
        )
        inspection.full_clean(exclude=["recorded_by"])
        _set_history_user(inspection, user)
        inspection.save()
        inspection.units.set(team_units)
        inspection.inspectors.set(list(people.values()))
        ensure_in_scope(inspection, user=user, action=ADD)
        ItemResult.objects.bulk_create([
            ItemResult(inspection=inspection, item=items[pk], outcome=outcome, note=(note or "").strip()[:500])
            for pk, (outcome, note) in results.items()
        ])

        outcome_by_code = {items[pk].code: results[pk][0] for pk in results}
        verified, reopened, still_failing = [], [], set()
        if follow_up_of is not None:
            for h in Hazard.objects.select_for_update().select_related("item").filter(
                inspection=follow_up_of, status__in=[HazardStatus.OPEN, HazardStatus.RECTIFIED],
                item__isnull=False,
            ):
                now_outcome = outcome_by_code.get(h.item.code)
                if now_outcome in (ItemOutcome.PASS, ItemOutcome.NOT_APPLICABLE):
                    h.status = HazardStatus.VERIFIED
                    h.verified_by = inspection
                    h.verified_at = inspected_at
                    h.rectified_at = h.rectified_at or inspected_at
                    verified.append(h)
                elif now_outcome == ItemOutcome.FAIL:
                    h.status = HazardStatus.OPEN
                    h.rectified_at = None
                    h.deadline = deadline
                    reopened.append(h)
                    still_failing.add(h.item.code)
                else:
                    continue
                h.version += 1
                _set_history_user(h, user)
                h.save()
        new_hazards = []
        for pk in sorted(items, key=lambda pk: items[pk].seq):
            item = items[pk]
            outcome, note = results[pk]
            if outcome != ItemOutcome.FAIL or item.code in still_failing:
                continue
            text = item.text + (f"：{note.strip()}" if note and note.strip() else "")
            new_hazards.append(Hazard(target=target, inspection=inspection, item=item, description=text,
                                      found_at=inspected_at, deadline=deadline))
        for line in extra:
            new_hazards.append(Hazard(target=target, inspection=inspection, description=line,
                                      found_at=inspected_at, deadline=deadline))
        for h in new_hazards:
            h.full_clean()
            _set_history_user(h, user)
            h.save()
        record_event(
            action="inspections.inspection_recorded", target=inspection, actor=user,
            changes={
                "target": target.pk, "template": f"{template.code}#{template.revision}",
                "inspected_at": inspected_at.isoformat(), "passed": card.passed, "score_pct": str(card.score_pct),
                "failed_items": [items[pk].code for pk in results if results[pk][0] == ItemOutcome.FAIL],
                "units": sorted(u.pk for u in team_units), "inspectors": sorted(people),
                "campaign": campaign.pk if campaign is not None else None,
                "follow_up_of": follow_up_of.pk if follow_up_of is not None else None,
                "hazards_created": [h.pk for h in new_hazards], "hazards_verified": [h.pk for h in verified],
                "hazards_reopened": [h.pk for h in reopened], "deadline": deadline.isoformat(),
            },
        )
    return inspection


def close_inspection(*, user: Any, inspection: Inspection, note: str = "") -> Inspection:
    """Close an inspection's file (销号) once every hazard it found is closed.

    Raises ``ValidationError`` (already closed, hazards not closed) or
    ``PermissionDenied`` (outside the user's ``change_inspection`` scope). One
    ``inspections.inspection_closed`` event.
    """
    with transaction.atomic():
        row = Inspection.objects.restrict(user, CHANGE).select_for_update(of=("self",)).filter(
            pk=inspection.pk).first()
        if row is None:
            raise PermissionDenied(_("该检查记录不在您的管辖范围内。"))
        if row.closed_at is not None:
            raise ValidationError(_("该检查记录已销号。"))
        pending = row.hazards.exclude(status=HazardStatus.CLOSED).count()
        if pending:
            raise ValidationError(_("还有 %(n)d 处隐患未销号，不能关闭检查记录。") % {"n": pending})
        row.closed_at = timezone.now()
        row.closing_note = (note or "").strip()[:500]
        row.version += 1
        _set_history_user(row, user)
        row.save()
        record_event(action="inspections.inspection_closed", target=row, actor=user, reason=note,
                     changes={"closed_at": row.closed_at.isoformat()})
    return row


# -- hazards ---------------------------------------------------------------------------------
def _hazard_for_change(user: Any, hazard: Hazard) -> Hazard:
    row = Hazard.objects.restrict(user, CHANGE).select_for_update(of=("self",)).filter(pk=hazard.pk).first()
    if row is None:
        raise PermissionDenied(_("该隐患不在您的管辖范围内。"))
    return row


def report_rectification(*, user: Any, hazard: Hazard, note: str, rectified_at: datetime | None = None,
                         expected_version: int | None = None) -> Hazard:
    """Record that an open hazard was rectified (the target's report, checked later by a
    re-inspection). ``rectified_at`` defaults to now and may not be in the future nor
    before the hazard was found; ``note`` says what was done.

    Raises ``ValidationError`` (not open, empty note, bad time), ``StaleEditError``,
    ``PermissionDenied``. One ``inspections.hazard_rectified`` event.
    """
    from jindu.core.models import StaleEditError

    note = (note or "").strip()
    if not note:
        raise ValidationError({"rectification_note": _("请填写整改情况。")})
    now = timezone.now()
    when = rectified_at or now
    with transaction.atomic():
        row = _hazard_for_change(user, hazard)
        if expected_version is not None and row.version != expected_version:
            raise StaleEditError(expected_version, row.version)
        if row.status != HazardStatus.OPEN:
            raise ValidationError(_("只有待整改的隐患可以登记整改（当前：%(s)s）。") % {"s": row.get_status_display()})
        if when > now + FUTURE_TOLERANCE or when < row.found_at:
            raise ValidationError({"rectified_at": _("整改完成时间应在发现时间之后、当前时间之前。")})
        row.status = HazardStatus.RECTIFIED
        row.rectified_at = when
        row.rectification_note = note
        row.version += 1
        _set_history_user(row, user)
        row.save()
        record_event(action="inspections.hazard_rectified", target=row, actor=user,
                     changes={"rectified_at": when.isoformat(), "note": note,
                              "late": timezone.localtime(when).date() > row.deadline})
    return row


def close_hazard(*, user: Any, hazard: Hazard, note: str = "") -> Hazard:
    """Close (销号) a hazard whose rectification a re-inspection verified.

    Raises ``ValidationError`` (not verified) or ``PermissionDenied``. One
    ``inspections.hazard_closed`` event.
    """
    with transaction.atomic():
        row = _hazard_for_change(user, hazard)
        if row.status != HazardStatus.VERIFIED:
            raise ValidationError(_("隐患须经复查确认整改后才能销号（当前：%(s)s）。") % {"s": row.get_status_display()})
        row.status = HazardStatus.CLOSED
        row.closed_at = timezone.now()
        row.closing_note = (note or "").strip()[:500]
        row.version += 1
        _set_history_user(row, user)
        row.save()
        record_event(action="inspections.hazard_closed", target=row, actor=user, reason=note,
                     changes={"closed_at": row.closed_at.isoformat()})
    return row


def extend_deadline(*, user: Any, hazard: Hazard, deadline: date, reason: str) -> Hazard:
    """Move an open hazard's rectification deadline (a local date, not before the day it
    was found). ``reason`` is required. Raises ``ValidationError`` or ``PermissionDenied``.
    One ``inspections.hazard_deadline_changed`` event."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": _("请填写调整整改期限的原因。")})
    with transaction.atomic():
        row = _hazard_for_change(user, hazard)
        if row.status != HazardStatus.OPEN:
            raise ValidationError(_("只有待整改的隐患可以调整整改期限。"))
        if deadline < timezone.localtime(row.found_at).date():
            raise ValidationError({"deadline": _("整改期限不能早于发现日期。")})
        before = row.deadline
        row.deadline = deadline
        row.version += 1
        _set_history_user(row, user)
        row.save()
        record_event(action="inspections.hazard_deadline_changed", target=row, actor=user, reason=reason,
                     changes={"deadline": [before.isoformat(), deadline.isoformat()]})
    return row


def local_inspection_time(value: datetime | None = None) -> datetime:
    """The time a new inspection defaults to: now, local, to the minute."""
    return (value or local_now()).replace(second=0, microsecond=0)


__all__ = [
    "TARGET_FIELDS", "TEMPLATE_FIELDS", "ITEM_FIELDS",
    "create_target", "update_target", "delete_target", "register_external_target",
    "can_edit_checklists", "create_template", "revise_template", "set_default_template",
    "ensure_checklist_profiles", "record_inspection", "close_inspection",
    "report_rectification", "close_hazard", "extend_deadline", "campaign_model",
]
