"""Background jobs of the precursors app.

:func:`reconcile` runs the closed-loop reconciliation
(:func:`jindu.precursors.reconciliation.run_reconciliation`) as a job: progress (rules
done of the total) and outcome live on a :class:`jindu.core.models.Job` row, so whoever
started it — or the job list, for the nightly run started by
``manage.py reconcile_precursors --enqueue`` from cron (no owner) — sees how far it got.
"""

from __future__ import annotations

import datetime as dt

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from jindu.core.jobs import JobError, JobReporter, job_task, register_job_kind, start_job

KIND = "precursors.reconcile"
register_job_kind(KIND, gettext_lazy("易制毒化学品闭环核对"))


@job_task()
def reconcile(reporter: JobReporter, *, mode: str = "full", as_of: str = "") -> dict:
    """Run every reconciliation rule, ``mode`` ``"full"`` or ``"incremental"``, as of
    ``as_of`` (ISO date; empty = today's local date).

    Result: the run's id, mode, pairs checked, discrepancies raised, findings per rule and
    ``summary`` rows for the job page. Raises :class:`JobError` for a bad date or mode.
    """
    from jindu.precursors.reconciliation import RULES, run_reconciliation
    from jindu.precursors.reconciliation.engine import MODES

    if mode not in MODES:
        raise JobError(_("参数“mode”：应为 full 或 incremental（收到“%(value)s”）") % {"value": mode})
    try:
        day = dt.date.fromisoformat(as_of) if as_of else None
    except ValueError:
        raise JobError(_("参数“as_of”：日期格式应为 YYYY-MM-DD（收到“%(value)s”）") % {"value": as_of}) from None
    reporter.progress(0, None, _("正在核对…"))
    run = run_reconciliation(user=reporter.user, mode=mode, as_of=day,
                             progress=lambda done, total, _name: reporter.progress(done, total))
    findings = dict(run.stats["findings"])
    summary = [[_("核对方式"), str(run.get_mode_display())], [_("核对截止日期"), run.as_of.isoformat()],
               [_("核对企业品种数"), run.pairs_checked], [_("新发现问题数"), run.raised],
               [_("不再存在的问题"), run.stats.get("cleared", 0)]]
    summary += [[str(RULES[code].title), n] for code, n in sorted(findings.items())]
    return {"run": run.pk, "mode": run.mode, "as_of": run.as_of.isoformat(), "pairs_checked": run.pairs_checked,
            "raised": run.raised, "cleared": run.stats.get("cleared", 0), "findings": findings, "summary": summary}


def start_reconciliation(*, user, mode: str = "full", as_of: dt.date | None = None):
    """Start :func:`reconcile` as a job owned by ``user`` (``None``: the nightly run)."""
    return start_job(user=user, kind=KIND, title=_("易制毒化学品闭环核对"), task=reconcile,
                     params={"mode": mode, "as_of": as_of.isoformat() if as_of else ""})
