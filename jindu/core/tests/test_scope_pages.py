"""Generic page scope tests (core.testing.PageScopeTests) applied to the org and geo pages."""

from jindu.accounts.tests.factories import UnitFactory
from jindu.core.testing import PageScopeTests
from jindu.geo.models import Division
from jindu.org.models import Unit


class TestUnitPageScope(PageScopeTests):
    model = Unit
    page_list_url = "org:unit_list"
    page_detail_url = "org:unit_detail"

    def make_row(self, div):
        return UnitFactory(division=div)


class TestDivisionPageScope(PageScopeTests):
    model = Division
    page_list_url = "geo:division_tree"
    page_detail_url = "geo:division_detail"

    def make_row(self, div):
        return div  # the district itself: the root of the viewer's tree
