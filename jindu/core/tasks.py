"""Framework-level background tasks.

:func:`export_rows` writes a large export (see :mod:`jindu.core.exports`) as a job.

:func:`count_rows` counts the rows of a scoped model that the job's owner may see,
grouped by a field with choices, and writes the counts as a CSV file. It is the job the
"我的后台任务" page offers (counting the divisions in one's jurisdiction), so every
installation can check that its worker runs; domain apps write their own jobs the same
way (see :mod:`jindu.core.jobs`).
"""

from __future__ import annotations

import csv
import io
from collections import Counter

from django.apps import apps
from django.core.files import File
from django.utils.translation import gettext as _

from jindu.core.jobs import JobError, JobReporter, job_task

#: Rows read per round trip; progress is reported once per chunk.
CHUNK = 2000


@job_task()
def count_rows(reporter: JobReporter, *, model: str, group_by: str) -> dict:
    """Count ``model`` rows visible to the job's owner, grouped by ``group_by``.

    ``model`` is an app label and model name (``"geo.Division"``); it must declare
    ``scope_division_path`` (the count goes through ``restrict(owner, "view")``).
    ``group_by`` must be a concrete field with choices, so a grouping can never list
    personal data. Raises :class:`JobError` naming the bad parameter otherwise.

    Result: ``{"model", "total", "groups": [{"value", "label", "count"}], "summary"}``
    and a CSV result file (UTF-8 with BOM, so Excel opens it in Chinese) with one row
    per group.
    """
    try:
        model_cls = apps.get_model(model)
    except (LookupError, ValueError):
        raise JobError(_("参数“model”：未知的数据类型 %(model)s") % {"model": model}) from None
    if getattr(model_cls, "scope_division_path", None) is None:
        raise JobError(_("参数“model”：%(model)s 不是按辖区管理的数据") % {"model": model})
    try:
        field = model_cls._meta.get_field(group_by)
    except Exception:
        raise JobError(_("参数“group_by”：%(model)s 没有字段 %(field)s") % {"model": model, "field": group_by}) from None
    if not getattr(field, "choices", None) or not field.concrete:
        raise JobError(_("参数“group_by”：只能按有固定选项的字段分组（%(field)s 不是）") % {"field": group_by})

    queryset = model_cls.objects.restrict(reporter.user, "view")
    total = queryset.count()
    reporter.progress(0, total, _("正在统计…"))
    counts: Counter = Counter()
    done = 0
    for value in queryset.order_by().values_list(group_by, flat=True).iterator(chunk_size=CHUNK):
        counts[value] += 1
        done += 1
        if done % CHUNK == 0:
            reporter.progress(done, total)
    reporter.progress(done, total)

    labels = dict(field.flatchoices)
    groups = [
        {"value": value, "label": str(labels.get(value, value)), "count": counts[value]}
        for value in [v for v, _label in field.flatchoices if v in counts] + sorted(
            (v for v in counts if v not in labels), key=str
        )
    ]
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([str(field.verbose_name), _("代码"), _("数量")])
    for g in groups:
        writer.writerow([g["label"], g["value"], g["count"]])
    writer.writerow([_("合计"), "", total])
    reporter.attach_file(f"{model_cls._meta.model_name}_{group_by}.csv", buffer.getvalue().encode("utf-8-sig"))

    summary = [[_("合计"), total]] + [[g["label"], g["count"]] for g in groups]
    return {"model": model_cls._meta.label, "total": total, "groups": groups, "summary": summary}


@job_task()
def export_rows(reporter: JobReporter, *, exporter: str, fmt: str, params: dict | None = None, path: str = "") -> dict:
    """Export the rows of ``exporter`` (dotted class path) the job's owner may view.

    ``params`` are the list page's filters as :func:`jindu.core.exports.params_to_json`
    stores them; scope and filters are applied to the data as it is now, with the owner's
    current grants (a permission revoked since the request fails the job). ``fmt`` is
    ``"xlsx"`` or ``"csv"``. Progress is reported once per chunk of rows; the file is the
    job's result file, downloadable by the owner through the logged job download view.

    Result: ``{"rows", "format", "summary"}``. Raises :class:`JobError` for an unknown
    exporter or format, or when the owner may no longer view the model.
    """
    from jindu.core.exports import export_to_file, load_exporter, params_from_json
    from jindu.core.scope import VIEW, has_model_permission

    try:
        exp = load_exporter(exporter)
    except LookupError:
        raise JobError(_("参数“exporter”：未知的导出类型 %(name)s") % {"name": exporter}) from None
    if fmt not in ("xlsx", "csv"):
        raise JobError(_("参数“fmt”：不支持的文件格式 %(fmt)s") % {"fmt": fmt})
    user = reporter.user
    if not has_model_permission(user, exp.model, VIEW):
        raise JobError(_("您的角色已没有查看%(label)s的权限，导出未进行。") % {"label": exp.label})
    filters = params_from_json(params)
    total = exp.get_queryset(user, filters).count()
    reporter.progress(0, total, _("正在导出…"))
    fh, count = export_to_file(
        exp, user=user, fmt=fmt, params=filters, path=path, on_progress=lambda n: reporter.progress(n, total)
    )
    # Rows added or removed since the count: the file's row count is the truth.
    reporter.progress(count, count)
    try:
        reporter.attach_file(exp.get_filename(fmt), File(fh))
    finally:
        fh.close()
    return {"rows": count, "format": fmt, "summary": [[_("导出行数"), count]]}
