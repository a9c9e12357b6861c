"""What the workflow pages share: paging, the access log of the people shown, the tab bar,
the form page that saves through one service call, and the hub (流程) itself.

Actions (POST only, one record) build on :class:`jindu.core.views.actions.RecordActionView`.
"""

from __future__ import annotations

from typing import Any, Iterable

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from django.views.generic import FormView, TemplateView

from jindu.core.audit import log_access
from jindu.core.models import AccessLog, StaleEditError
from jindu.core.scope import CHANGE, grant_roots
from jindu.core.views.mixins import STALE_MESSAGE, ScopedPermissionMixin
from jindu.persons import workflows
from jindu.persons.models import Person
from jindu.persons.services import merge as merge_services
from jindu.persons.views import add_service_errors

PAGE_SIZE = 25


def page_of(request, rows, per_page: int = PAGE_SIZE):
    """The page ``?page=`` of ``rows`` (Django's ``Page``; out of range → the last page)."""
    return Paginator(rows, per_page).get_page(request.GET.get("page"))


def chosen_tab(request, tabs: tuple[str, ...]) -> str:
    """``?tab=`` when it is one of ``tabs``, else the first of them."""
    tab = request.GET.get("tab", tabs[0])
    return tab if tab in tabs else tabs[0]


def log_people(request, objects: Iterable[Any], model=Person, kind: str = AccessLog.Kind.LIST) -> None:
    """One access-log row for the records of people a page shows (their ids, the filters)."""
    ids = [o.pk for o in objects]
    log_access(kind=kind, model=model, user=request.user, object_ids=ids, result_count=len(ids),
               path=request.path, query=request.GET.dict())


def changeable_ids(user, people: Iterable[Person]) -> set[int]:
    """The ids among ``people`` that ``user`` may change (whose action buttons to show)."""
    return set(Person.objects.restrict(user, CHANGE).filter(pk__in=[p.pk for p in people])
               .values_list("pk", flat=True))


def nav_context(request) -> dict:
    """What the workflow tab bar needs: whether the user may open the merge list."""
    return {"can_merge": grant_roots(request.user, merge_services.DECIDE_PERMISSION) != []}


class NavMixin:
    """Adds the tab bar's context (``section`` and :func:`nav_context`)."""

    section = ""

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx.setdefault("section", self.section)
        ctx.update(nav_context(self.request))
        return ctx


class WorkflowPage(ScopedPermissionMixin, NavMixin, TemplateView):
    """A workflow list page: login, model permission (403), the tab bar."""

    model = Person


class ServiceFormView(NavMixin, FormView):
    """A workflow form page that saves through one service call, ``save(form)``.

    A refusal keeps the user's input and writes nothing: the service's ``ValidationError``
    goes on the form's fields (:func:`~jindu.persons.views.add_service_errors`), a stale
    version and ``PermissionDenied`` (worded by ``refusal_text``) on the form. A save says
    ``success_message`` (``saved``) and goes to ``get_success_url()``. Put
    :class:`ScopedPermissionMixin` first in the subclass's bases (403 before anything else).
    """

    success_message = ""

    def save(self, form) -> Any:  # pragma: no cover - declared by subclasses
        raise NotImplementedError

    def refusal_text(self, exc: PermissionDenied) -> str:
        return _("该人员超出您的管辖范围，未保存。")

    def saved(self, obj: Any) -> None:
        messages.success(self.request, self.success_message)

    def form_valid(self, form):
        try:
            self.object = self.save(form)
        except ValidationError as exc:
            add_service_errors(form, exc)
            return self.form_invalid(form)
        except StaleEditError as exc:
            form.add_error(None, STALE_MESSAGE % {"expected": exc.expected, "actual": exc.actual})
            return self.form_invalid(form)
        except PermissionDenied as exc:
            form.add_error(None, self.refusal_text(exc))
            return self.form_invalid(form)
        self.saved(self.object)
        return HttpResponseRedirect(self.get_success_url())


class PersonFromQueryMixin:
    """A form page about one person: ``?person=<pk>`` among the people the user may change
    (404 otherwise), or — without it — the form finds the person by identity number."""

    def dispatch(self, request, *args, **kwargs):
        self.person = None
        if request.user.is_authenticated and request.GET.get("person"):
            try:
                pk = int(request.GET["person"])
            except ValueError:
                raise Http404 from None
            self.person = get_object_or_404(Person.objects.restrict(request.user, CHANGE), pk=pk)
        return super().dispatch(request, *args, **kwargs)

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "user": self.request.user, "person": self.person}

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), "person": self.person}


class WorkflowIndexView(WorkflowPage):
    """流程: what is waiting in each workflow of the user's scope, with links."""

    template_name = "persons/workflow_index.html"
    section = "index"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx["counts"] = workflows.workflow_counts(self.request.user)
        return ctx
