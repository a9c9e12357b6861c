"""Tests of :mod:`jindu.core.views.actions` on the test-only Specimen model.

The module is its own URLconf: one record action (rename a specimen through a small
service built on :func:`jindu.core.services.update_versioned`), so every step of
:class:`RecordActionView` and every branch of :func:`run_service` is seen through a real
request: permission, scope, form, service refusal, success.
"""

import pytest
from django import forms
from django.contrib.messages import constants, get_messages
from django.contrib.messages.storage.cookie import CookieStorage
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import RequestFactory
from django.urls import include, path, reverse

from jindu.accounts.tests.factories import specimen_factory
from jindu.core.scope import CHANGE
from jindu.core.services import update_versioned
from jindu.core.testing import division, make_user, permissions_for, user_with
from jindu.core.tests.testapp.models import Specimen
from jindu.core.views.actions import RecordActionView, error_text, form_error_text, run_service
from jindu.core.views.mixins import VersionField

SpecimenFactory = specimen_factory()


class RenameForm(forms.Form):
    name = forms.CharField(label="名称", max_length=20)
    version = VersionField()  # no label: its errors are shown without one


def rename_specimen(*, user, specimen, name, expected_version):
    """The service under test: refuses names starting with 坏, else a versioned update."""
    if name.startswith("坏"):
        raise ValidationError({"name": ["名称不能以“坏”开头。"]})
    specimen, _changed = update_versioned(specimen, user=user, data={"name": name}, fields=["name"],
                                          expected_version=expected_version)
    return specimen


class SpecimenRenameView(RecordActionView):
    model = Specimen
    action = CHANGE
    form_class = RenameForm

    def act(self, specimen, data):
        return run_service(self.request, lambda: rename_specimen(
            user=self.request.user, specimen=specimen, name=data["name"], expected_version=data["version"]),
            lambda s: f"已改名为{s.name}。")

    def back_url(self, specimen, result=None):
        return f"/specimens/{specimen.pk}/?renamed={'yes' if result is not None else 'no'}"


urlpatterns = [
    path("specimens/<int:pk>/rename/", SpecimenRenameView.as_view(), name="specimen_rename"),
    path("", include("jindu.urls")),  # the login page and the error pages' links
]

pytestmark = pytest.mark.urls(__name__)


def required() -> str:
    """Django's own "this field is required" in the active language (Chinese in tests)."""
    return str(forms.Field.default_error_messages["required"])


def url(specimen_or_pk) -> str:
    return reverse("specimen_rename", args=[getattr(specimen_or_pk, "pk", specimen_or_pk)])


def said(response) -> list[tuple[int, str]]:
    return [(m.level, m.message) for m in get_messages(response.wsgi_request)]


def stored(specimen) -> tuple[str, int, int]:
    """What the database holds for ``specimen``: name, version, number of history rows."""
    fresh = Specimen.objects.get(pk=specimen.pk)
    return fresh.name, fresh.version, Specimen.history.filter(id=specimen.pk).count()


@pytest.fixture
def editor(db):
    """May view and change specimens in 龙华区 (460106)."""
    return user_with(permissions_for(Specimen, ["view", "change"]), division("460106"))


@pytest.fixture
def specimen(db):
    return SpecimenFactory(name="原名", division=division("460106001"))


# -- permission, scope, method ------------------------------------------------------------------
def test_anonymous_goes_to_login_and_nothing_written(client, specimen):
    before = stored(specimen)
    response = client.post(url(specimen), {"name": "新名", "version": specimen.version})
    assert response.status_code == 302 and "/login" in response["Location"]
    assert stored(specimen) == before


def test_without_permission_403_before_any_lookup(client, specimen):
    viewer = user_with(permissions_for(Specimen, ["view"]), division("460106"))
    client.force_login(viewer)
    before = stored(specimen)
    # 403, not 404, even for a record that does not exist: the record is never looked up.
    assert client.post(url(999_999), {"name": "新名", "version": 1}).status_code == 403
    assert client.post(url(specimen), {"name": "新名", "version": specimen.version}).status_code == 403
    assert stored(specimen) == before


def test_without_permission_the_record_is_never_fetched(client, specimen, monkeypatch):
    client.force_login(make_user())
    monkeypatch.setattr(SpecimenRenameView, "get_object",
                        lambda self: pytest.fail("the record was looked up before the permission check"))
    assert client.post(url(specimen), {"name": "新名", "version": specimen.version}).status_code == 403


def test_out_of_scope_404_like_missing(client, editor):
    elsewhere = SpecimenFactory(name="秀英的", division=division("460105001"))  # 秀英区
    before = stored(elsewhere)
    client.force_login(editor)
    assert client.post(url(elsewhere), {"name": "新名", "version": elsewhere.version}).status_code == 404
    assert client.post(url(999_999), {"name": "新名", "version": 1}).status_code == 404
    assert stored(elsewhere) == before


def test_get_is_not_allowed(client, editor, specimen):
    client.force_login(editor)
    assert client.get(url(specimen)).status_code == 405


# -- form, service refusals, success ------------------------------------------------------------
def test_invalid_form_says_why_and_writes_nothing(client, editor, specimen):
    before = stored(specimen)
    client.force_login(editor)
    response = client.post(url(specimen), {"name": "", "version": ""})
    assert response.status_code == 302 and response["Location"] == f"/specimens/{specimen.pk}/?renamed=no"
    assert said(response) == [(constants.ERROR, f"未保存：名称：{required()}；{required()}")]
    assert stored(specimen) == before


def test_refused_message_is_the_views_own(client, editor, specimen, monkeypatch):
    before = stored(specimen)
    monkeypatch.setattr(SpecimenRenameView, "refused_message", "未改名：%(reason)s")
    client.force_login(editor)
    response = client.post(url(specimen), {"name": "x" * 21, "version": specimen.version})
    [(level, text)] = said(response)
    assert level == constants.ERROR and text.startswith("未改名：名称：") and "20" in text and "21" in text
    assert stored(specimen) == before


def test_service_validation_error_is_shown_and_nothing_written(client, editor, specimen):
    before = stored(specimen)
    client.force_login(editor)
    response = client.post(url(specimen), {"name": "坏名字", "version": specimen.version})
    assert response["Location"] == f"/specimens/{specimen.pk}/?renamed=no"
    assert said(response) == [(constants.ERROR, "未保存：名称不能以“坏”开头。")]
    assert stored(specimen) == before


def test_stale_version_is_refused(client, editor, specimen):
    client.force_login(editor)
    rename_specimen(user=editor, specimen=specimen, name="别人改的", expected_version=specimen.version)
    specimen.refresh_from_db()
    before = stored(specimen)
    assert before[:2] == ("别人改的", 2)
    response = client.post(url(specimen), {"name": "我的", "version": specimen.version - 1})
    [(level, text)] = said(response)
    assert level == constants.ERROR and "第 1 版" in text and "第 2 版" in text and "未保存" in text
    assert stored(specimen) == before


def test_success_redirects_with_the_result(client, editor, specimen):
    client.force_login(editor)
    name, version, history = stored(specimen)
    response = client.post(url(specimen), {"name": "新名", "version": version})
    assert response.status_code == 302 and response["Location"] == f"/specimens/{specimen.pk}/?renamed=yes"
    assert said(response) == [(constants.SUCCESS, "已改名为新名。")]
    assert stored(specimen) == ("新名", version + 1, history + 1)


# -- run_service and the text helpers on their own ----------------------------------------------
@pytest.fixture
def request_with_messages():
    request = RequestFactory().post("/")
    request._messages = CookieStorage(request)
    return request


def texts(request) -> list[tuple[int, str]]:
    return [(m.level, str(m.message)) for m in request._messages]


def raising(exc):
    def call():
        raise exc
    return call


def test_run_service_permission_denied(request_with_messages):
    assert run_service(request_with_messages, raising(PermissionDenied("该记录不在您的管辖范围内。")), "好") is None
    assert run_service(request_with_messages, raising(PermissionDenied()), "好") is None
    assert texts(request_with_messages) == [
        (constants.ERROR, "未保存：该记录不在您的管辖范围内。"),
        (constants.ERROR, "未保存：超出您的管辖范围。"),
    ]


def test_run_service_denied_wording_can_be_the_pages_own(request_with_messages):
    result = run_service(request_with_messages, raising(PermissionDenied("不行。")), "好",
                         denied=lambda exc: f"[{exc}]")
    assert result is None and texts(request_with_messages) == [(constants.ERROR, "[不行。]")]


def test_run_service_success_returns_result_and_other_errors_propagate(request_with_messages):
    assert run_service(request_with_messages, lambda: 42, lambda n: f"共 {n} 条。") == 42
    assert texts(request_with_messages) == [(constants.SUCCESS, "共 42 条。")]
    with pytest.raises(KeyError):  # not a refusal: a bug, and it must not look like one
        run_service(request_with_messages, raising(KeyError("x")), "好")


def test_error_text_joins_field_and_plain_errors():
    assert error_text(ValidationError({"a": ["甲错。"], "__all__": ["总错。"]})) == "甲错。；总错。"
    assert error_text(ValidationError(["一。", "二。"])) == "一。；二。"
    assert error_text(ValidationError("只有一条。")) == "只有一条。"


def test_form_error_text_labels_fields_but_not_unlabelled_or_form_errors():
    class F(RenameForm):
        def clean(self):
            raise ValidationError("整体有误。")

    form = F({"name": "", "version": "0"})
    assert not form.is_valid()
    assert form_error_text(form) == f"名称：{required()}；确保该值大于或等于1。；整体有误。"
