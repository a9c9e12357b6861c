"""Scope tests for the test-only Specimen model, including the ``assigned_only`` rule.

The module is its own URLconf: a Specimen viewset built from the core API pieces, so the
generic tests run against a model that declares an assignee (as persons will).
"""

import pytest
from django.urls import include, path, reverse
from rest_framework import routers, viewsets

from jindu.accounts.tests.factories import specimen_factory
from jindu.core.api import AccessLogListMixin, ScopedRelatedField, ScopedViewSetMixin, VersionedModelSerializer
from jindu.core.models import AccessLog
from jindu.core.testing import ApiScopeTests, all_pages, api_client, division, make_user, permissions_for, user_with
from jindu.core.tests.testapp.models import Specimen
from jindu.geo.models import Division

SpecimenFactory = specimen_factory()


class SpecimenSerializer(VersionedModelSerializer):
    division = ScopedRelatedField(Division)

    class Meta:
        model = Specimen
        fields = ["id", "name", "division", "assignee", "recorded_at", "version"]


class SpecimenViewSet(ScopedViewSetMixin, AccessLogListMixin, viewsets.ModelViewSet):
    queryset = Specimen.objects.all()
    serializer_class = SpecimenSerializer
    search_fields = ["name"]
    ordering_fields = ["name", "recorded_at"]


router = routers.DefaultRouter()
router.register("specimens", SpecimenViewSet, basename="specimen")
urlpatterns = [path("api/", include((router.urls, "api"), namespace="api"))]

pytestmark = pytest.mark.urls(__name__)


class TestSpecimenApiScope(ApiScopeTests):
    model = Specimen
    api_list_url = "api:specimen-list"
    api_detail_url = "api:specimen-detail"

    def make_row(self, div):
        return SpecimenFactory(division=div)

    def create_payload(self, div):
        return {"name": "新样本", "division": div.pk}

    def move_payload(self, row, div):
        return {"division": div.pk}


@pytest.fixture
def worker_world(db):
    """A social-worker-like user (assigned_only) in 龙华区 and rows assigned or not."""
    worker = user_with(permissions_for(Specimen, ["view", "change"]), division("460106"), assigned_only=True)
    mine = SpecimenFactory(division=division("460106001"), assignee=worker)
    colleague = make_user()
    theirs = SpecimenFactory(division=division("460106001"), assignee=colleague)
    unassigned = SpecimenFactory(division=division("460106002"))
    # Assigned to the worker but outside their jurisdiction (e.g. after a move): not visible.
    mine_elsewhere = SpecimenFactory(division=division("460105001"), assignee=worker)
    return worker, mine, theirs, unassigned, mine_elsewhere


def test_assigned_only_sees_only_assigned_rows_in_jurisdiction(worker_world):
    worker, mine, theirs, unassigned, mine_elsewhere = worker_world
    client = api_client(worker)
    ids, count = all_pages(client, reverse("api:specimen-list"))
    assert ids == [mine.pk] and count == 1
    for other in (theirs, unassigned, mine_elsewhere):
        assert client.get(reverse("api:specimen-detail", kwargs={"pk": other.pk})).status_code == 404
    assert client.get(reverse("api:specimen-detail", kwargs={"pk": mine.pk})).status_code == 200


def test_assigned_only_search_and_filters_never_widen(worker_world):
    worker, mine, theirs, *_ = worker_world
    client = api_client(worker)
    response = client.get(reverse("api:specimen-list"), {"search": theirs.name})
    assert response.status_code == 200 and response.json()["count"] == 0
    assert client.get(reverse("api:specimen-list"), {"scope": "all"}).status_code == 400
    assert client.get(reverse("api:specimen-list"), {"assignee": theirs.assignee_id}).status_code == 400


def test_assigned_only_write_to_unassigned_row_is_404(worker_world):
    worker, mine, theirs, *_ = worker_world
    client = api_client(worker)
    url = reverse("api:specimen-detail", kwargs={"pk": theirs.pk})
    assert client.patch(url, {"name": "x", "version": 1}, format="json").status_code == 404
    theirs.refresh_from_db()
    assert theirs.name != "x"


def test_list_and_detail_write_access_log(worker_world):
    worker, mine, *_ = worker_world
    client = api_client(worker)
    client.get(reverse("api:specimen-list"), {"search": mine.name})
    client.get(reverse("api:specimen-detail", kwargs={"pk": mine.pk}))
    logs = list(AccessLog.objects.filter(user=worker).order_by("id"))
    assert [(log.kind, log.model, log.object_ids, log.result_count) for log in logs] == [
        ("search", "testapp.Specimen", [str(mine.pk)], 1),
        ("view", "testapp.Specimen", [str(mine.pk)], 1),
    ]
    assert logs[0].query == {"search": mine.name}


def test_access_log_masks_identity_numbers_in_query(worker_world):
    worker, *_ = worker_world
    api_client(worker).get(reverse("api:specimen-list"), {"search": "110101199003071233"})
    log = AccessLog.objects.get(user=worker)
    assert "110101199003071233" not in str(log.query)


def test_moving_a_row_out_of_scope_is_rolled_back(db):
    """A user who can see both districts but write only in one cannot move a row across."""
    user = make_user()
    from jindu.core.testing import grant, make_role

    grant(user, make_role([*permissions_for(Specimen, ["view"]), "geo.view_division"]), division("460100"))
    grant(user, make_role(permissions_for(Specimen, ["view", "add", "change"])), division("460106"))
    row = SpecimenFactory(division=division("460106001"))
    client = api_client(user)
    url = reverse("api:specimen-detail", kwargs={"pk": row.pk})
    response = client.patch(url, {"division": division("460105001").pk, "version": 1}, format="json")
    assert response.status_code == 403
    assert "管辖范围" in response.json()["detail"]
    row.refresh_from_db()
    assert row.division.code == "460106001000" and row.version == 1 and row.history.count() == 1
    response = client.post(reverse("api:specimen-list"), {"name": "越界", "division": division("460105001").pk},
                           format="json")
    assert response.status_code == 403
    assert not Specimen.objects.filter(name="越界").exists()
