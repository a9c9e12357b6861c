"""Background jobs of the registry.

:func:`recompute_all` is the nightly recomputation (:func:`jindu.persons.bulk.recompute`)
as a job: its progress and outcome live on a :class:`jindu.core.models.Job` row, so the
page of whoever started it — or the job list, for the unattended nightly run started by
``manage.py recompute_persons --enqueue`` from cron (no owner) — shows how far it got.
"""

from __future__ import annotations

import datetime as dt

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from jindu.core.jobs import JobError, JobReporter, job_task, register_job_kind, start_job
from jindu.persons.choices import Status

KIND = "persons.recompute"
register_job_kind(KIND, gettext_lazy("重新计算人员管控状态与待办"))


@job_task()
def recompute_all(reporter: JobReporter, *, as_of: str = "", chunk_size: int = 0, workers: int = 1) -> dict:
    """Recompute everyone's status, tier and due items as of ``as_of`` (ISO date; empty =
    today's local date). Progress: people done of the total, once per chunk. ``workers``:
    processes sharing the work (PostgreSQL; see ``bulk.recompute``).

    Result: :meth:`jindu.persons.bulk.RecomputeStats.as_dict` plus ``summary`` (people,
    changed, due items, and people per status). Raises :class:`JobError` for a bad date.
    """
    from jindu.persons import bulk

    try:
        day = dt.date.fromisoformat(as_of) if as_of else None
    except ValueError:
        raise JobError(_("参数“as_of”：日期格式应为 YYYY-MM-DD（收到“%(value)s”）") % {"value": as_of}) from None
    reporter.progress(0, None, _("正在重新计算…"))
    stats = bulk.recompute(as_of=day, chunk_size=chunk_size or bulk.DEFAULT_CHUNK, progress=reporter.progress,
                           workers=max(1, int(workers or 1)))
    labels = dict(Status.choices)
    summary = [[_("人数"), stats.people], [_("状态或等级有变化"), stats.changed],
               [_("待办有变化"), stats.due_changed], [_("待办事项"), stats.due_items]]
    summary += [[str(labels.get(code, code)), n] for code, n in sorted(stats.status_counts.items())]
    return {**stats.as_dict(), "summary": summary}


def start_recompute(*, user, as_of: dt.date | None = None, workers: int = 1):
    """Start :func:`recompute_all` as a job owned by ``user`` (``None``: the nightly run)."""
    return start_job(user=user, kind=KIND, title=_("重新计算人员管控状态与待办"), task=recompute_all,
                     params={"as_of": as_of.isoformat() if as_of else "", "workers": workers})
