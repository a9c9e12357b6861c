"""Population figures shipped with their sources and the denominator rule."""

import pytest

from jindu.core.testing import division
from jindu.geo.models import Population
from jindu.geo.services import load_population, population_of

pytestmark = pytest.mark.django_db


def test_haikou_and_district_census_figures_loaded_with_source():
    # 第七次人口普查: 海口 2,873,358; the four districts add up to it (population.md).
    city = Population.objects.get(division=division("460100000000"), year=2020, kind="census resident")
    assert city.population == 2873358
    assert "第七次全国人口普查公报" in city.source_doc
    districts = Population.objects.filter(division__code__in=[f"4601{d}000000" for d in ("05", "06", "07", "08")],
                                          year=2020, kind="census resident")
    assert sum(p.population for p in districts) == 2873358


def test_reload_keeps_an_administrators_correction():
    qiongshan = Population.objects.get(division=division("460107000000"), year=2020, kind="census resident")
    qiongshan.population = 655554
    qiongshan.save()
    assert load_population("460100") == 0
    qiongshan.refresh_from_db()
    assert qiongshan.population == 655554


def test_denominator_prefers_latest_year_then_year_end_resident():
    haikou = division("460100000000")
    assert population_of(haikou, 2023).population == 3001600  # 300.16万 year-end 2023
    assert population_of(haikou, 2021).kind == "census resident"  # 2020 census; registered ranks last
    assert population_of(haikou, 2019) is None
    assert population_of(division("460107000000"), 2024).population == 655553  # only the census is published
