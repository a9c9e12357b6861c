"""The UI is Simplified Chinese by default, whatever the browser asks for; English when chosen."""

from django.urls import reverse


def test_chinese_by_default_even_for_an_english_browser(client, db):
    resp = client.get(reverse("login"), HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9")
    assert resp.status_code == 200
    assert '<html lang="zh-CN"' in resp.content.decode()


def test_english_when_chosen(client, db):
    client.post(reverse("set_language"), {"language": "en", "next": "/login/"})
    resp = client.get(reverse("login"))
    assert '<html lang="en"' in resp.content.decode()


def test_password_rules_speak_chinese(db):
    """Django 5.2's reworded minimum-length message is missing from its zh_Hans catalog;
    Jindu's zh_Hans catalog fills the gap."""
    from django.contrib.auth.password_validation import MinimumLengthValidator
    from django.core.exceptions import ValidationError
    from django.utils import translation

    with translation.override("zh-hans"):
        try:
            MinimumLengthValidator(10).validate("abc")
        except ValidationError as exc:
            assert exc.messages == ["密码太短，至少需要 10 个字符。"]
        else:
            raise AssertionError("a 3-character password passed")
