"""Job pages name a job's kind in Chinese, never by its internal dotted name."""

from __future__ import annotations

import pytest
from django.urls import reverse

from jindu.core.jobs import job_kind_label, register_job_kind
from jindu.core.models import Job
from jindu.core.testing import make_user


@pytest.fixture
def owner(db):
    return make_user()


@pytest.mark.parametrize("kind,label", [
    ("core.import_preview", "校验导入文件"),
    ("core.import_commit", "导入数据"),
    ("core.count_rows", "统计数据"),
    ("export.org.unit", "导出数据"),
])
def test_detail_page_shows_kind_label(client, owner, kind, label):
    job = Job.objects.create(kind=kind, title="某个任务", created_by=owner)
    client.force_login(owner)
    html = client.get(reverse("job_detail", args=[job.pk])).content.decode()
    assert f'<dd class="col-sm-10">{label}</dd>' in html
    assert kind not in html


def test_unknown_kind_shows_the_title(client, owner):
    job = Job.objects.create(kind="demo.unregistered_thing", title="重新计算评分", created_by=owner)
    client.force_login(owner)
    html = client.get(reverse("job_detail", args=[job.pk])).content.decode()
    assert '<dd class="col-sm-10">重新计算评分</dd>' in html
    assert "demo.unregistered_thing" not in html


def test_exact_kind_wins_over_prefix(owner):
    register_job_kind("export.test_special", "导出特别数据")
    assert job_kind_label(Job(kind="export.test_special", title="t")) == "导出特别数据"
    assert job_kind_label(Job(kind="export.other", title="t")) == "导出数据"
