"""Pages for background jobs: my jobs, one job's status (polled with htmx), its result file.

A job is visible only to the user who started it; anyone else gets 404, the same answer
as for a job that does not exist. Downloading a result file writes an access-log row.
"""

from __future__ import annotations

import os

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from jindu.core.audit import log_access
from jindu.core.jobs import ACTIVE, job_kind_label, jobs_of, start_job, sync_with_backend
from jindu.core.models import AccessLog, Job

PAGE_SIZE = 50


def _shown(job: Job) -> dict:
    """Context for the status fragment. Fixed messages and summary labels written by a
    worker are Chinese msgids (the worker runs in the default language); they are shown
    in the reader's language when the catalogue has them, as written otherwise."""
    summary = (job.result or {}).get("summary") or [] if job.status == Job.Status.SUCCEEDED else []
    return {
        "job": job,
        "kind_label": job_kind_label(job),
        "active": job.status in ACTIVE,
        "message": _(job.message) if job.message else "",
        "summary": [[_(label) if isinstance(label, str) and label else label, *rest] for label, *rest in summary],
    }


@login_required
@require_GET
def job_list(request):
    page = Paginator(jobs_of(request.user).order_by("-created_at", "-id"), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "core/jobs/list.html", {"page": page, "jobs": page.object_list})


def _own_job(request, pk: int) -> Job:
    job = get_object_or_404(jobs_of(request.user), pk=pk)
    return sync_with_backend(job)


@login_required
@require_GET
def job_detail(request, pk: int):
    job = _own_job(request, pk)
    return render(request, "core/jobs/detail.html", _shown(job))


@login_required
@require_GET
def job_status(request, pk: int):
    """The status fragment the detail page swaps in every 2 s while the job is active."""
    job = _own_job(request, pk)
    return render(request, "core/jobs/_status.html", _shown(job))


@login_required
@require_GET
def job_download(request, pk: int):
    job = get_object_or_404(jobs_of(request.user), pk=pk)
    if not job.result_file:
        raise Http404(_("该任务没有结果文件"))
    try:
        handle = job.result_file.open("rb")
    except FileNotFoundError:
        raise Http404(_("结果文件已不存在")) from None
    log_access(
        kind=AccessLog.Kind.DOWNLOAD,
        model=Job,
        user=request.user,
        object_ids=[job.pk],
        path=request.path,
        query={"kind": job.kind, "file": os.path.basename(job.result_file.name)},
    )
    return FileResponse(handle, as_attachment=True, filename=os.path.basename(job.result_file.name))


@login_required
@require_POST
def job_count_divisions(request):
    """Start the demo job: count the divisions in the user's jurisdiction by level."""
    from jindu.core.tasks import count_rows

    job = start_job(
        user=request.user,
        kind="core.count_rows",
        title=_("统计辖区内行政区划"),
        task=count_rows,
        params={"model": "geo.Division", "group_by": "level"},
    )
    return redirect("job_detail", pk=job.pk)


urlpatterns = [
    path("jobs/", job_list, name="job_list"),
    path("jobs/count-divisions/", job_count_divisions, name="job_count_divisions"),
    path("jobs/<int:pk>/", job_detail, name="job_detail"),
    path("jobs/<int:pk>/status/", job_status, name="job_status"),
    path("jobs/<int:pk>/download/", job_download, name="job_download"),
]
