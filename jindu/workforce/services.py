"""Writes of the workforce: teams, recruitment and the employment lifecycle, contracts,
training, meetings, caseload assignment and balance, appraisal and renewal.

Every public function is keyword-only, runs in one transaction, re-checks scope after the
write (rolling back when the record would leave the user's scope) and writes exactly one
audit event ``workforce.<thing>_<verb>``. Caseload changes go through
``persons.services.assign_worker``, which also writes one ``persons.worker_assigned`` event
per person whose worker changed, so every change of a person's worker is audited where the
person's history is.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any, Iterable, Mapping

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from jindu.core.audit import record_event
from jindu.core.scope import ADD, CHANGE, VIEW
from jindu.core.services import ensure_in_scope, update_versioned
from jindu.core.timeutils import local_today, parse_period
from jindu.persons import selectors as persons_selectors
from jindu.persons import services as persons_services
from jindu.workforce import scorecard, selectors
from jindu.workforce.balance import Move
from jindu.workforce.choices import IN_POST_STATUSES, LeavingKind, RenewalDecision, WorkerStatus
from jindu.workforce.conf import workforce_settings
from jindu.workforce.models import Appraisal, ContractPeriod, Meeting, Team, TrainingRecord, Worker

TEAM_FIELDS = ("name", "kind", "parent", "division", "leader", "is_active")
WORKER_FIELDS = ("user", "name", "phone", "team", "position", "recruited_on", "probation_ends_on", "notes")
WORKER_EDIT_FIELDS = ("name", "phone", "team", "position", "probation_ends_on", "notes")
TRAINING_FIELDS = ("course", "provider", "started_on", "duration_h", "certificate")
MEETING_FIELDS = ("team", "kind", "held_on", "place", "minutes")


def _summary(data: Mapping[str, Any]) -> dict[str, Any]:
    out = {}
    for key, value in data.items():
        if hasattr(value, "pk"):
            value = value.pk
        elif isinstance(value, (dt.date, dt.datetime)):
            value = value.isoformat()
        elif isinstance(value, Decimal):
            value = str(value)
        out[key] = value
    return out


def _save(obj, user) -> None:
    obj._history_user = user if getattr(user, "pk", None) else None
    obj.save()


# -- teams --------------------------------------------------------------------------------


@transaction.atomic
def create_team(*, user: Any, data: Mapping[str, Any]) -> Team:
    """Create a brigade (district) or squadron (town, under its brigade) from ``data`` (keys
    of :data:`TEAM_FIELDS`). Raises ``ValidationError`` (field → Chinese message) or
    ``PermissionDenied`` (outside the user's ``workforce.add_team`` scope); nothing written."""
    team = Team(**{k: v for k, v in data.items() if k in TEAM_FIELDS})
    team.full_clean()
    _save(team, user)
    ensure_in_scope(team, user=user, action=ADD)
    record_event(action="workforce.team_created", target=team, actor=user,
                 changes=_summary({k: v for k, v in data.items() if k in TEAM_FIELDS}))
    return team


@transaction.atomic
def update_team(*, user: Any, team: Team, data: Mapping[str, Any], expected_version: int | None) -> tuple[Team, bool]:
    """Edit a team (keys of :data:`TEAM_FIELDS`); a stale ``expected_version`` raises
    ``StaleEditError``. Returns ``(team, changed)``."""
    candidate = Team.objects.get(pk=team.pk)
    for key, value in data.items():
        if key in TEAM_FIELDS:
            setattr(candidate, key, value)
    candidate.full_clean()
    before = {f: getattr(Team.objects.get(pk=team.pk), f"{f}_id" if f in ("parent", "division", "leader") else f)
              for f in TEAM_FIELDS}
    team, changed = update_versioned(team, user=user, data={k: getattr(candidate, k) for k in TEAM_FIELDS},
                                     fields=TEAM_FIELDS, expected_version=expected_version)
    if changed:
        after = {f: getattr(team, f"{f}_id" if f in ("parent", "division", "leader") else f) for f in TEAM_FIELDS}
        record_event(action="workforce.team_updated", target=team, actor=user,
                     changes={f: [before[f], after[f]] for f in TEAM_FIELDS if before[f] != after[f]})
    return team, changed


# -- workers and employment ---------------------------------------------------------------


def _check_team_visible(user: Any, team: Team | None) -> None:
    if team is not None and not Team.objects.restrict(user, VIEW).filter(pk=team.pk).exists():
        raise ValidationError({"team": _("所选队伍不存在或不在您的管辖范围内。")})


def _add_months(d: dt.date, months: int) -> dt.date:
    return scorecard.add_interval(d, (months, "months"))


@transaction.atomic
def recruit_worker(*, user: Any, data: Mapping[str, Any], contract_ends_on: dt.date | None = None) -> Worker:
    """Record a recruited worker (keys of :data:`WORKER_FIELDS`; ``user`` is their existing
    account, which must not belong to another worker): on probation until
    ``probation_ends_on`` (or confirmed at once when there is none). With
    ``contract_ends_on`` the first contract period (``recruited_on`` → that date) is made too.

    Raises ``ValidationError`` / ``PermissionDenied`` (the team outside the user's
    ``workforce.add_worker`` scope); nothing is written then."""
    _check_team_visible(user, data.get("team"))
    account = data.get("user")
    if account is not None and Worker.objects.filter(user=account).exists():
        raise ValidationError({"user": _("该用户账号已关联其他社工。")})
    worker = Worker(**{k: v for k, v in data.items() if k in WORKER_FIELDS})
    if not worker.probation_ends_on:
        worker.status, worker.confirmed_on = WorkerStatus.IN_POST, worker.recruited_on
    worker.full_clean()
    _save(worker, user)
    ensure_in_scope(worker, user=user, action=ADD)
    contract = None
    if contract_ends_on is not None:
        contract = _new_contract(user, worker, worker.recruited_on, contract_ends_on)
    record_event(action="workforce.worker_recruited", target=worker, actor=user,
                 changes={**_summary({k: v for k, v in data.items() if k in WORKER_FIELDS and k != "phone"}),
                          "status": worker.status, "contract": contract.pk if contract else None})
    return worker


@transaction.atomic
def update_worker(*, user: Any, worker: Worker, data: Mapping[str, Any], expected_version: int | None
                  ) -> tuple[Worker, bool]:
    """Edit a worker's own fields (:data:`WORKER_EDIT_FIELDS`; the account never changes, the
    status only through :func:`confirm_worker` / :func:`end_employment`). A move to a team
    outside the user's scope is refused. Returns ``(worker, changed)``."""
    if "team" in data:
        _check_team_visible(user, data["team"])
    candidate = Worker.objects.get(pk=worker.pk)
    for key, value in data.items():
        if key in WORKER_EDIT_FIELDS:
            setattr(candidate, key, value)
    candidate.full_clean()
    stored = Worker.objects.get(pk=worker.pk)
    before = {f: getattr(stored, "team_id" if f == "team" else f) for f in WORKER_EDIT_FIELDS}
    worker, changed = update_versioned(worker, user=user, data={k: getattr(candidate, k) for k in WORKER_EDIT_FIELDS},
                                       fields=WORKER_EDIT_FIELDS, expected_version=expected_version)
    if changed:
        after = {f: getattr(worker, "team_id" if f == "team" else f) for f in WORKER_EDIT_FIELDS}
        record_event(action="workforce.worker_updated", target=worker, actor=user,
                     changes=_summary({f: [str(before[f]), str(after[f])] for f in WORKER_EDIT_FIELDS
                                       if before[f] != after[f] and f != "phone"}
                                      | ({"phone": "changed"} if before["phone"] != after["phone"] else {})))
    return worker, changed


def _locked_worker(user: Any, worker: Worker) -> Worker:
    locked = Worker.objects.restrict(user, CHANGE).select_for_update().filter(pk=worker.pk).first()
    if locked is None:
        raise PermissionDenied(_("该社工不在您的管辖范围内。"))
    return locked


@transaction.atomic
def confirm_worker(*, user: Any, worker: Worker, on: dt.date | None = None) -> Worker:
    """End a worker's probation: status in post from ``on`` (default today). Raises
    ``ValidationError`` unless the worker is on probation."""
    locked = _locked_worker(user, worker)
    if locked.status != WorkerStatus.PROBATION:
        raise ValidationError({"status": _("只有试用期社工可以转正。")})
    on = on or local_today()
    if on < locked.recruited_on:
        raise ValidationError({"confirmed_on": _("转正日期不能早于入职日期。")})
    locked.status, locked.confirmed_on = WorkerStatus.IN_POST, on
    locked.version += 1
    _save(locked, user)
    record_event(action="workforce.worker_confirmed", target=locked, actor=user, changes={"confirmed_on": on.isoformat()})
    return locked


@transaction.atomic
def end_employment(*, user: Any, worker: Worker, kind: str, on: dt.date, reason: str) -> Worker:
    """Record a worker's leaving (resignation, dismissal, contract not renewed) on ``on`` with
    ``reason`` (required). The worker's caseload goes back to the town's unassigned list
    (``persons.services.assign_worker(worker=None)``, audited per person); the user account
    is left to the account administrators. Raises ``ValidationError`` for a missing reason,
    an unknown kind, a date before recruitment or a worker who has already left."""
    reason = (reason or "").strip()
    errors = {}
    if not reason:
        errors["leaving_reason"] = _("请填写离职原因。")
    if kind not in LeavingKind.values:
        errors["leaving_kind"] = _("请选择离职方式。")
    locked = _locked_worker(user, worker)
    if locked.status == WorkerStatus.LEFT:
        errors["status"] = _("该社工已离职。")
    if on < locked.recruited_on:
        errors["left_on"] = _("离职日期不能早于入职日期。")
    if errors:
        raise ValidationError(errors)
    locked.status, locked.left_on, locked.leaving_kind, locked.leaving_reason = WorkerStatus.LEFT, on, kind, reason
    locked.version += 1
    _save(locked, user)
    people = list(persons_selectors.persons_for(user, CHANGE).filter(assigned_worker=locked.user_id))
    released = persons_services.assign_worker(user=user, persons=people, worker=None,
                                              reason=_("社工离职：%(reason)s") % {"reason": reason}) if people else 0
    record_event(action="workforce.employment_ended", target=locked, actor=user, reason=reason,
                 changes={"kind": kind, "left_on": on.isoformat(), "caseload_released": released})
    return locked


def _new_contract(user: Any, worker: Worker, starts_on: dt.date, ends_on: dt.date, note: str = "") -> ContractPeriod:
    if ends_on < starts_on:
        raise ValidationError({"ends_on": _("合同截止日期不能早于开始日期。")})
    if ContractPeriod.objects.filter(worker=worker, starts_on__lte=ends_on, ends_on__gte=starts_on).exists():
        raise ValidationError({"starts_on": _("合同期与该社工已有的合同期重叠。")})
    notice = dt.timedelta(days=int(workforce_settings()["renewal_notice_days"]))
    contract = ContractPeriod(worker=worker, starts_on=starts_on, ends_on=ends_on, note=note,
                              renewal_due_on=max(starts_on, ends_on - notice))
    contract.full_clean()
    _save(contract, user)
    ensure_in_scope(contract, user=user, action=ADD)
    return contract


@transaction.atomic
def add_contract(*, user: Any, worker: Worker, starts_on: dt.date, ends_on: dt.date, note: str = "") -> ContractPeriod:
    """Add a contract period (``starts_on``–``ends_on``, inclusive). The renewal decision is
    due ``renewal_notice_days`` (setting, default 30) before the end. Raises
    ``ValidationError`` for reversed or overlapping periods or a worker who has left."""
    locked = _locked_worker(user, worker)
    if locked.status == WorkerStatus.LEFT:
        raise ValidationError({"worker": _("已离职的社工不能新增合同。")})
    contract = _new_contract(user, locked, starts_on, ends_on, note)
    record_event(action="workforce.contract_added", target=contract, actor=user,
                 changes={"worker": locked.pk, "starts_on": starts_on.isoformat(), "ends_on": ends_on.isoformat()})
    return contract


@transaction.atomic
def record_training(*, user: Any, worker: Worker, data: Mapping[str, Any]) -> TrainingRecord:
    """Record a training course of ``worker`` (keys of :data:`TRAINING_FIELDS`; hours as a
    ``Decimal``)."""
    locked = _locked_worker(user, worker)
    record = TrainingRecord(worker=locked, **{k: v for k, v in data.items() if k in TRAINING_FIELDS})
    record.full_clean()
    _save(record, user)
    ensure_in_scope(record, user=user, action=ADD)
    record_event(action="workforce.training_recorded", target=record, actor=user,
                 changes={"worker": locked.pk, **_summary({k: v for k, v in data.items() if k in TRAINING_FIELDS})})
    return record


@transaction.atomic
def record_meeting(*, user: Any, data: Mapping[str, Any], attendees: Iterable[Worker] = ()) -> Meeting:
    """Record a brigade's monthly or a squadron's weekly meeting with who attended.
    Attendees must be workers of the team or of its squadrons; raises ``ValidationError``
    otherwise (naming them) and for a meeting kind that does not fit the team."""
    _check_team_visible(user, data.get("team"))
    meeting = Meeting(recorded_by=user if getattr(user, "pk", None) else None,
                      **{k: v for k, v in data.items() if k in MEETING_FIELDS})
    meeting.full_clean()
    people = list(attendees)
    wrong = [w.name for w in people if not w.team.division.path.startswith(meeting.team.division.path)]
    if wrong:
        raise ValidationError({"attendees": _("以下人员不属于该队伍：%(names)s。") % {"names": "、".join(wrong)}})
    _save(meeting, user)
    meeting.attendees.set(people)
    ensure_in_scope(meeting, user=user, action=ADD)
    record_event(action="workforce.meeting_recorded", target=meeting, actor=user,
                 changes={**_summary({k: v for k, v in data.items() if k in MEETING_FIELDS and k != "minutes"}),
                          "attendees": sorted(w.pk for w in people)})
    return meeting


# -- caseloads ----------------------------------------------------------------------------


def _assignable_worker(user: Any, worker: Worker) -> Worker:
    found = selectors.workers_for(user).filter(pk=worker.pk).first()
    if found is None:
        raise PermissionDenied(_("该社工不在您的管辖范围内。"))
    if found.status not in IN_POST_STATUSES:
        raise ValidationError({"worker": _("%(name)s不在岗，不能分配帮扶对象。") % {"name": found.name}})
    return found


@transaction.atomic
def assign_caseload(*, user: Any, worker: Worker, persons: Iterable[Any], reason: str = "") -> int:
    """Make ``worker`` (in post, visible to the user) the responsible worker of ``persons``
    (one or many); returns how many changed. Every person must live in the worker's team's
    area; otherwise ``ValidationError`` names them and nothing changes. Each change is audited
    by ``persons.services.assign_worker``; this call adds one ``workforce.caseload_assigned``."""
    found = _assignable_worker(user, worker)
    people = list(persons)
    area = found.team.division.path
    outside = [p.name for p in people if not p.residence_division.path.startswith(area)]
    if outside:
        raise ValidationError({"persons": _("以下人员不住在%(area)s，不能分配给该社工：%(names)s。")
                               % {"area": found.team.division.name, "names": "、".join(outside)}})
    changed = persons_services.assign_worker(user=user, persons=people, worker=found.user, reason=reason)
    record_event(action="workforce.caseload_assigned", target=found, actor=user, reason=reason,
                 changes={"persons": sorted(p.pk for p in people), "changed": changed})
    return changed


@transaction.atomic
def apply_balance(*, user: Any, town: Any, moves: Iterable[Move], reason: str = "") -> int:
    """Apply balance ``moves`` shown to the user for ``town``. Each move says which worker the
    person had when the suggestion was made; if any person's worker has changed since, the
    whole call is refused (``ValidationError``: the suggestion is stale, recompute it).
    Returns how many people changed worker. One ``workforce.caseload_balanced`` event."""
    moves = list(moves)
    if not moves:
        return 0
    workers = {w.user_id: w for w in selectors.in_post_workers(user, town)}
    people = {p.pk: p for p in persons_selectors.persons_for(user, CHANGE).select_for_update(of=("self",))
              .filter(pk__in=[m.person_id for m in moves], residence_division__path__startswith=town.path)}
    for m in moves:
        person = people.get(m.person_id)
        if person is None:
            raise PermissionDenied(_("调整建议中有人员不在您的管辖范围内。"))
        if person.assigned_worker_id != m.from_worker_id:
            raise ValidationError(_("调整建议已过期（有人员的责任社工已被修改），请重新生成建议。"))
        if m.to_worker_id not in workers:
            raise ValidationError(_("调整建议中的社工已不在岗，请重新生成建议。"))
    changed = 0
    by_target: dict[int, list] = {}
    for m in moves:
        by_target.setdefault(m.to_worker_id, []).append(people[m.person_id])
    for target in sorted(by_target):
        changed += persons_services.assign_worker(user=user, persons=by_target[target], worker=workers[target].user,
                                                  reason=reason or _("按配比调整帮扶对象"))
    record_event(action="workforce.caseload_balanced", target=town, actor=user, reason=reason,
                 changes={"moves": [[m.person_id, m.from_worker_id, m.to_worker_id] for m in moves],
                          "changed": changed})
    return changed


# -- appraisal and renewal ----------------------------------------------------------------


@transaction.atomic
def compute_appraisal(*, user: Any, worker: Worker, period_label: str, today: dt.date | None = None) -> Appraisal:
    """Compute (or recompute, while undecided) ``worker``'s scorecard for the period
    ``period_label`` (``2025``, ``2025-Q2``, ``2025-06``; :func:`jindu.core.timeutils.parse_period`)
    from the case work (:mod:`jindu.workforce.scorecard`), as of ``min(period end, today)``.

    Raises ``ValidationError`` for a bad or future period or an appraisal already decided."""
    try:
        period = parse_period(period_label)
    except ValueError as exc:
        raise ValidationError({"period_label": str(exc)}) from None
    today = today or local_today()
    if period.first > today:
        raise ValidationError({"period_label": _("考核期间尚未开始。")})
    locked = _locked_worker(user, worker)
    conf = workforce_settings()
    as_of = min(period.last, today)
    people, handovers = selectors.scorecard_inputs(user, locked, first=period.first, last=as_of, as_of=as_of)
    card = scorecard.compute(people, handovers, first=period.first, last=as_of, intervals=conf["intervals"],
                             weights=conf["weights"])
    card["computed_on"] = today.isoformat()
    appraisal = Appraisal.objects.select_for_update().filter(worker=locked, period_label=period.label).first()
    created = appraisal is None
    if appraisal is None:
        appraisal = Appraisal(worker=locked, period_label=period.label)
    elif appraisal.decision != RenewalDecision.PENDING:
        raise ValidationError({"period_label": _("该期间的考核已作出续聘决定，不能重新计算。")})
    else:
        appraisal.version += 1
    appraisal.period_first, appraisal.period_last = period.first, period.last
    appraisal.scorecard = card
    appraisal.computed_score = Decimal(card["computed_score"])
    appraisal.total_score = (appraisal.computed_score + appraisal.supervisor_score
                             if appraisal.supervisor_score is not None else None)
    appraisal.computed_by = user if getattr(user, "pk", None) else None
    appraisal.full_clean()
    _save(appraisal, user)
    ensure_in_scope(appraisal, user=user, action=ADD if created else CHANGE)
    record_event(action="workforce.appraisal_computed", target=appraisal, actor=user,
                 changes={"worker": locked.pk, "period": period.label, "computed_score": card["computed_score"]})
    return appraisal


def check_marks(marks: Mapping[str, Any]) -> dict[str, Decimal]:
    """The supervisor's marks as Decimals, each between 0 and its maximum (settings
    ``marks``). Raises ``ValidationError`` naming the mark."""
    maxima = workforce_settings()["marks"]
    errors, out = {}, {}
    for code, top in maxima.items():
        raw = marks.get(code)
        try:
            value = Decimal(str(raw)).quantize(Decimal("0.1"))
        except (InvalidOperation, ValueError):
            errors[code] = _("请填写 0–%(max)s 之间的分数。") % {"max": top}
            continue
        if not Decimal(0) <= value <= Decimal(top):
            errors[code] = _("请填写 0–%(max)s 之间的分数。") % {"max": top}
        out[code] = value
    unknown = sorted(set(marks) - set(maxima))
    if unknown:
        errors["marks"] = _("未知的评分项：%(codes)s。") % {"codes": "、".join(unknown)}
    if errors:
        raise ValidationError(errors)
    return out


@transaction.atomic
def mark_appraisal(*, user: Any, appraisal: Appraisal, marks: Mapping[str, Any], expected_version: int | None
                   ) -> Appraisal:
    """Record the supervisor's marks (codes of the ``marks`` setting) on an undecided
    appraisal; the total becomes computed score + marks. Stale versions are refused."""
    values = check_marks(marks)
    locked = Appraisal.objects.restrict(user, CHANGE).select_for_update().filter(pk=appraisal.pk).first()
    if locked is None:
        raise PermissionDenied(_("该考核记录不在您的管辖范围内。"))
    if locked.decision != RenewalDecision.PENDING:
        raise ValidationError({"marks": _("已作出续聘决定的考核不能再修改评分。")})
    supervisor = sum(values.values(), Decimal(0))
    updated, _changed = update_versioned(
        locked, user=user, expected_version=expected_version,
        data={"supervisor_marks": {k: str(v) for k, v in values.items()}, "supervisor_score": supervisor,
              "total_score": locked.computed_score + supervisor},
        fields=("supervisor_marks", "supervisor_score", "total_score"))
    record_event(action="workforce.appraisal_marked", target=updated, actor=user,
                 changes={"marks": {k: str(v) for k, v in values.items()}, "total_score": str(updated.total_score)})
    return updated


def suggested_decision(appraisal: Appraisal) -> str | None:
    """``renew`` when the total reaches the ``renew_threshold`` setting, ``not_renew`` below
    it, ``None`` before the supervisor's marks are in."""
    if appraisal.total_score is None:
        return None
    threshold = Decimal(str(workforce_settings()["renew_threshold"]))
    return RenewalDecision.RENEW if appraisal.total_score >= threshold else RenewalDecision.NOT_RENEW


@transaction.atomic
def decide_renewal(*, user: Any, appraisal: Appraisal, decision: str, reason: str = "",
                   today: dt.date | None = None) -> Appraisal:
    """Decide whether to renew the contract of the appraised worker, on the appraisal.

    Needs the supervisor's marks (a total). The decision applies to the worker's open
    contract (the latest undecided one, if any): ``renew`` adds the next contract period of
    ``contract_term_months`` (setting) from the day after it ends; ``not_renew`` records that
    it will not be renewed (the leaving itself is recorded with :func:`end_employment` when it
    happens). A decision against the suggestion (:func:`suggested_decision`) needs a reason.
    Raises ``ValidationError``; one ``workforce.renewal_decided`` event."""
    if decision not in (RenewalDecision.RENEW, RenewalDecision.NOT_RENEW):
        raise ValidationError({"decision": _("请选择续聘或不续聘。")})
    locked = Appraisal.objects.restrict(user, CHANGE).select_for_update().filter(pk=appraisal.pk).first()
    if locked is None:
        raise PermissionDenied(_("该考核记录不在您的管辖范围内。"))
    if locked.decision != RenewalDecision.PENDING:
        raise ValidationError({"decision": _("该考核已作出续聘决定。")})
    if locked.total_score is None:
        raise ValidationError({"decision": _("请先录入主管评分，再作续聘决定。")})
    reason = (reason or "").strip()
    if decision != suggested_decision(locked) and not reason:
        raise ValidationError({"decision_reason": _("决定与考核得分的建议不一致，请填写理由。")})
    today = today or local_today()
    contract = (ContractPeriod.objects.select_for_update().filter(worker=locked.worker, decision=RenewalDecision.PENDING)
                .order_by("-ends_on").first())
    new_contract = None
    if contract is not None:
        contract.decision, contract.decided_on = decision, today
        contract.decided_by = user if getattr(user, "pk", None) else None
        contract.version += 1
        _save(contract, user)
        if decision == RenewalDecision.RENEW:
            start = contract.ends_on + dt.timedelta(days=1)
            end = _add_months(start, int(workforce_settings()["contract_term_months"])) - dt.timedelta(days=1)
            new_contract = _new_contract(user, locked.worker, start, end)
    locked.decision, locked.decision_reason, locked.contract = decision, reason, contract
    locked.version += 1
    _save(locked, user)
    ensure_in_scope(locked, user=user, action=CHANGE)
    record_event(action="workforce.renewal_decided", target=locked, actor=user, reason=reason,
                 changes={"decision": decision, "contract": contract.pk if contract else None,
                          "new_contract": new_contract.pk if new_contract else None,
                          "total_score": str(locked.total_score)})
    return locked
