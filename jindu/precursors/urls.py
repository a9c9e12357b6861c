from django.contrib import messages
from django.shortcuts import redirect
from django.urls import path, reverse
from django.utils.translation import gettext as _

from jindu.core.views.imports import ExportView
from jindu.precursors import views

app_name = "precursors"
urlpatterns: list = [
    path("", views.OverviewView.as_view(), name="overview"),
    path("enterprises/", views.EnterpriseListView.as_view(), name="enterprise_list"),
    path("enterprises/new/", views.EnterpriseCreateView.as_view(), name="enterprise_create"),
    path("enterprises/<int:pk>/", views.EnterpriseDetailView.as_view(), name="enterprise_detail"),
    path("enterprises/<int:pk>/edit/", views.EnterpriseUpdateView.as_view(), name="enterprise_edit"),
    path("enterprises/<int:pk>/ledger/", views.EnterpriseLedgerView.as_view(), name="enterprise_ledger"),
    path("enterprises/<int:pk>/licences/new/", views.LicenceCreateView.as_view(), name="licence_create"),
    path("licences/<int:pk>/revoke/", views.LicenceRevokeView.as_view(), name="licence_revoke"),
    path("ledger/new/", views.LedgerEntryCreateView.as_view(), name="entry_create"),
    path("ledger/<int:pk>/", views.EntryDetailView.as_view(), name="entry_detail"),
    path("ledger/<int:pk>/void/", views.EntryVoidView.as_view(), name="entry_void"),
    path("counts/new/", views.StockCountCreateView.as_view(), name="count_create"),
    path("discrepancies/", views.DiscrepancyListView.as_view(), name="discrepancy_list"),
    path("discrepancies/<int:pk>/", views.DiscrepancyDetailView.as_view(), name="discrepancy_detail"),
    path("discrepancies/<int:pk>/assign/", views.DiscrepancyAssignView.as_view(), name="discrepancy_assign"),
    path("discrepancies/<int:pk>/work/", views.DiscrepancyWorkView.as_view(), name="discrepancy_work"),
    path("discrepancies/<int:pk>/close/", views.DiscrepancyCloseView.as_view(), name="discrepancy_close"),
    path("discrepancies/<int:pk>/reopen/", views.DiscrepancyReopenView.as_view(), name="discrepancy_reopen"),
    path("supervision/", views.SupervisionView.as_view(), name="supervision"),
]

try:  # the exporters are written in parallel (exporters.py); the links appear once they exist
    from jindu.precursors import exporters
except ImportError:  # pragma: no cover
    exporters = None


class _ExportView(ExportView):
    """The generic export with a page's filters; unreadable filters send the user back to
    the page (which names them) instead of exporting anything."""

    def back_url(self, params) -> str:  # pragma: no cover - per export
        raise NotImplementedError

    def get(self, request, *args, **kwargs):
        from django.core.exceptions import BadRequest

        if request.user.is_authenticated and self.exporter is not None:
            params = request.GET.copy()
            params.pop("format", None)
            params.pop("page", None)
            try:
                self.exporter().get_queryset(request.user, params).exists()
            except BadRequest:
                messages.error(request, _("筛选条件有误，未导出。"))
                return redirect(self.back_url(params))
        return super().get(request, *args, **kwargs)


class EnterpriseExportView(_ExportView):
    exporter = getattr(exporters, "EnterpriseExporter", None)

    def back_url(self, params):
        return f"{reverse('precursors:enterprise_list')}?{params.urlencode()}"


class LedgerExportView(_ExportView):
    exporter = getattr(exporters, "LedgerExporter", None)

    def back_url(self, params):
        pk = params.pop("enterprise", [""])[-1]
        if pk.isdigit():
            return f"{reverse('precursors:enterprise_ledger', args=[int(pk)])}?{params.urlencode()}"
        return reverse("precursors:enterprise_list")


class LicenceExportView(_ExportView):
    exporter = getattr(exporters, "LicenceExporter", None)

    def back_url(self, params):
        return reverse("precursors:enterprise_list")


for _route, _view, _name in (("enterprises/export/", EnterpriseExportView, "enterprise_export"),
                             ("ledger/export/", LedgerExportView, "ledger_export"),
                             ("licences/export/", LicenceExportView, "licence_export")):
    if _view.exporter is not None:
        urlpatterns.append(path(_route, _view.as_view(), name=_name))
