"""The shared division pickers (:mod:`jindu.geo.forms`): labels that tell same-named villages
apart (parent · name（code）), one query for all the choices, the ``data-searchable`` hook of
the type-to-search script — and every form that uses them still offers exactly the
divisions its scoping allows (a user in 龙华区 sees 龙华区's, at the form's levels)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from jindu.core.testing import division, user_with
from jindu.geo.choices import Level
from jindu.geo.forms import (
    DivisionChoiceField,
    DivisionMultipleChoiceField,
    GridForm,
    PopulationForm,
    division_label,
)
from jindu.geo.models import Division

pytestmark = pytest.mark.django_db

LONGHUA = "460106"
PERMS = [
    "geo.view_division", "geo.add_division", "geo.add_population",
    "org.view_unit", "org.add_unit", "org.add_pairing",
    "persons.add_screeninground",
    "enforcement.view_case", "enforcement.add_case", "enforcement.view_campaign", "enforcement.add_campaign",
    "enforcement.add_gang", "enforcement.add_screeningsession",
]


@pytest.fixture
def longhua_user(db):
    return user_with(PERMS, division(LONGHUA))


# -- labels -------------------------------------------------------------------------------


def test_labels_name_the_parent_and_the_code_as_long_as_the_level_needs():
    assert division_label(division("460107001001")) == "国兴街道 · 巴伦社区居委会（460107001001）"
    assert division_label(division("460107001")) == "琼山区 · 国兴街道（460107001）"
    assert division_label(division("460107")) == "海口市 · 琼山区（460107）"
    assert division_label(division("4601")) == "海南省 · 海口市（4601）"
    assert division_label(division("46")) == "海南省（46）"


def test_same_named_villages_get_different_labels():
    twins = Division.objects.filter(name="新村村委会", level=Level.VILLAGE).select_related("parent").order_by("code")
    assert [division_label(d) for d in twins] == [
        "海秀镇 · 新村村委会（460105102200）",
        "新坡镇 · 新村村委会（460106102202）",
    ]


def test_a_grid_is_labelled_with_its_village_and_full_code():
    village = division("460107001001")
    grid = Division.objects.create(code="460107001001-01", name="第一网格", level=Level.GRID, parent=village)
    assert division_label(grid) == "巴伦社区居委会 · 第一网格（460107001001-01）"


def test_all_choices_cost_one_query_and_the_select_is_searchable(django_assert_num_queries):
    field = DivisionChoiceField(queryset=Division.objects.filter(level=Level.VILLAGE).order_by("code"))
    with django_assert_num_queries(1):
        html = field.widget.render("to_division", None)
    assert html.count("<option") == Division.objects.filter(level=Level.VILLAGE).count() + 1  # + "---------"
    assert "data-searchable" in html and 'data-searchable-placeholder="输入名称或区划代码查找"' in html
    assert "国兴街道 · 巴伦社区居委会（460107001001）</option>" in html

    many = DivisionMultipleChoiceField(queryset=Division.objects.filter(level=Level.TOWN).order_by("code"))
    with django_assert_num_queries(1):
        html = many.widget.render("jurisdiction", None)
    assert "multiple" in html and "data-searchable" in html and "琼山区 · 国兴街道（460107001）</option>" in html


def test_the_queryset_is_kept_as_given():
    """The parent is joined in, nothing else changes: the same rows in the same order."""
    given = Division.objects.filter(path__startswith=division(LONGHUA).path).order_by("-code")
    field = DivisionChoiceField(queryset=given)
    assert list(field.queryset) == list(given)
    assert field.clean(str(division("460106001").pk)) == division("460106001")


# -- every converted form offers exactly its in-scope divisions ---------------------------


def _offered(form, name: str) -> list[str]:
    """Codes of the divisions offered by ``form``'s ``name`` field, in page order."""
    return [value.instance.code for value, _label in form.fields[name].choices if value != ""]


def _subtree(code: str, *levels: str) -> list[str]:
    return sorted(Division.objects.filter(path__startswith=division(code).path, level__in=levels)
                  .values_list("code", flat=True))


def _citywide(*levels: str) -> list[str]:
    return sorted(Division.objects.filter(level__in=levels).values_list("code", flat=True))


def _forms(user):
    """``(form, field name, divisions expected)`` for every form using the shared fields."""
    from jindu.enforcement.forms import CampaignForm, CaseForm, CaseStatisticsForm, GangForm, ScreeningSessionForm
    from jindu.org.forms import PairingCreateForm, UnitForm
    from jindu.persons.forms_workflows import (
        NewlyFoundForm,
        ScreeningOpenForm,
        ScreeningResultForm,
        TransferRequestForm,
    )
    from jindu.persons.views.statistics import StatisticsForm

    unit_form = UnitForm(user=user, action="add")
    d, t, v, g = Level.DISTRICT, Level.TOWN, Level.VILLAGE, Level.GRID
    town = division("460106001")
    return [
        (unit_form, "division", _subtree(LONGHUA, Level.CITY, d, t, v)),
        (unit_form, "jurisdiction", _subtree(LONGHUA, d, t)),
        (PairingCreateForm(user=user), "town", _subtree(LONGHUA, t)),
        (StatisticsForm(user=user), "division", _subtree(LONGHUA, d, t)),
        (TransferRequestForm(user=user), "to_division", _citywide(v, g)),  # any village may receive
        (ScreeningOpenForm(user=user), "division", _subtree(LONGHUA, t)),
        (ScreeningResultForm(), "to_division", _citywide(v, g)),
        (NewlyFoundForm(screening_round=SimpleNamespace(division=town)), "residence_division",
         _subtree("460106001", v)),
        (PopulationForm(user=user), "division", _subtree(LONGHUA, d, t, v)),
        (GridForm(user=user), "parent", _subtree(LONGHUA, v)),
        (CampaignForm(user=user, action="add"), "division", _subtree(LONGHUA, d)),
        (CaseForm(user=user, action="add"), "division", _subtree(LONGHUA, d, t)),
        (GangForm(user=user, action="add"), "division", _subtree(LONGHUA, d, t)),
        (ScreeningSessionForm(user=user, action="add"), "division", _subtree(LONGHUA, d, t)),
        (CaseStatisticsForm(user=user), "district", _subtree(LONGHUA, d)),
    ]


def test_each_form_offers_exactly_the_divisions_in_its_scope(longhua_user):
    for form, name, expected in _forms(longhua_user):
        where = f"{type(form).__name__}.{name}"
        field = form.fields[name]
        assert isinstance(field, (DivisionChoiceField, DivisionMultipleChoiceField)), where
        assert "data-searchable" in field.widget.attrs, where
        offered = _offered(form, name)
        assert len(offered) == len(set(offered)), where
        assert sorted(offered) == expected, where
        assert expected, where  # the fixture data has divisions at every level asked for


def test_a_form_offers_nothing_outside_the_scope():
    """A user of 秀英区 is offered none of 龙华区's towns (and vice versa through the loop above)."""
    from jindu.persons.forms_workflows import ScreeningOpenForm

    xiuying = user_with(["persons.add_screeninground"], division("460105"))
    offered = _offered(ScreeningOpenForm(user=xiuying), "division")
    assert offered == _subtree("460105", Level.TOWN)
    assert not any(code.startswith(LONGHUA) for code in offered)
