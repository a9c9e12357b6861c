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
