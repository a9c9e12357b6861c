"""The demo world reproduces the seed report's figures through the statistics selectors."""

import datetime as dt
import io
from decimal import Decimal

import pytest

from jindu.core.testing import division, make_user, grant
from jindu.enforcement import selectors
from jindu.enforcement.models import Case
from jindu.substances.quantities import format_grams


@pytest.fixture
def demo_world(db, settings):
    settings.JINDU_DEMO_CITY = "460100"
    from jindu.enforcement import demo
    from jindu.org import demo as org_demo
    from jindu.accounts.roles import ensure_default_roles

    ensure_default_roles()
    org_demo.seed(io.StringIO())
    out = io.StringIO()
    demo.seed(out)
    return out.getvalue()


def _leader(code):
    user = make_user()
    grant(user, "leader", division(code))
    return user


def test_seed_figures_reproduced(demo_world, client):
    """City 2023: 215 criminal cases, 6190.58 g; 琼山区 2022–2023: 58 cases, 6 ministry/province
    target cases, 145 suspects, 15 gangs, 1.9 kg — from the records, on the page too."""
    stats = selectors.statistics(_leader("460100"), selectors.StatisticsFilter(
        dt.date(2023, 1, 1), dt.date(2023, 12, 31), kind="criminal"))
    assert stats.cases_solved == 215
    assert stats.seized_g == Decimal("6190.58")
    assert format_grams(stats.seized_g, sep=" ") == "6190.58 克"
    qiongshan = division("460107")
    for user in (_leader("460100"), _leader("460107")):
        stats = selectors.statistics(user, selectors.StatisticsFilter(
            dt.date(2022, 1, 1), dt.date(2023, 12, 31), division=qiongshan, kind="criminal"))
        assert stats.cases_solved == 58
        assert stats.ministry_province_targets == 6
        assert stats.suspects_caught == 145
        assert stats.gangs_broken == 15
        assert stats.seized_g == Decimal("1900.000")
    client.force_login(_leader("460100"))
    html = client.get("/enforcement/statistics/", {"date_from": "2023-01-01", "date_to": "2023-12-31",
                                                    "kind": "criminal"}).content.decode()
    assert "6190.58 克" in html and "215 起" in html
    html = client.get("/enforcement/statistics/", {"date_from": "2022-01-01", "date_to": "2023-12-31",
                                                    "kind": "criminal",
                                                    "district": division("460107").pk}).content.decode()
    assert "1900 克" in html and "58 起" in html and "145 人" in html and "15 个" in html

    # create-once: a second run changes nothing
    from jindu.enforcement import demo

    before = Case.objects.count()
    out = io.StringIO()
    demo.seed(out)
    assert Case.objects.count() == before
    assert "already present" in out.getvalue()
