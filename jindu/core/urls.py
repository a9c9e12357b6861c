from jindu.core.views import imports, jobs, pages

urlpatterns = [*pages.urlpatterns, *imports.urlpatterns, *jobs.urlpatterns]
