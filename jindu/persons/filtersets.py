"""Person list filters, shared by the list page (and usable by its export and the API).

Filters work only on what every role sees (status, tier, drug, place, worker, name). The
search box takes a name (or alias) or an identity number in any accepted form — 18 or
15 digits, full-width digits, lower-case x, spaces — matched exactly through the blind index
(``jindu.core.fields.identity_q``), never by decrypting. A number-shaped search that is not a
valid number is an error, never "no match". Unreadable filter values are errors too: the
page shows them and no rows, rather than quietly widening the result.
"""

from __future__ import annotations

import re
import unicodedata

import django_filters
from django import forms
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from jindu.core.fields import identity_q
from jindu.core.idnumbers import DocumentType, IdentityNumberError, normalize_document_number
from jindu.core.scope import VIEW
from jindu.core.timeutils import local_today
from jindu.geo.choices import Level
from jindu.geo.forms import DivisionChoiceField
from jindu.geo.models import Division
from jindu.persons.choices import Status, Tier
from jindu.persons.models import DueItem, Person
from jindu.persons.worklists import week_end

#: 15 to 18 characters, digits with perhaps a final X: meant as a resident identity number.
_RESIDENT_ID_SHAPE = re.compile(r"[0-9]{14,17}[0-9X]")
_DOCUMENT_SHAPE = re.compile(r"[A-Z0-9\-/()]{5,64}")

NO_TIER = "none"


def _clean_search(value: str) -> str:
    text = unicodedata.normalize("NFKC", value or "")
    return "".join(ch for ch in text if not ch.isspace() and unicodedata.category(ch) != "Cf").upper()


def identity_search_q(value: str) -> Q | None:
    """A ``Q`` finding people whose identity number equals ``value`` (any document type whose
    rules accept it), ``None`` when ``value`` does not look like a number. Raises
    ``IdentityNumberError`` for a resident-ID-shaped value that is not a valid number."""
    text = _clean_search(value)
    if not any(ch.isdigit() for ch in text):
        return None
    if _RESIDENT_ID_SHAPE.fullmatch(text):
        # Shaped like a resident identity number: say what is wrong with it (length, check
        # digit, birth date …) instead of showing "no match". Other documents of this exact
        # shape are not expected.
        normalize_document_number(DocumentType.RESIDENT_ID, text)
    if not _DOCUMENT_SHAPE.fullmatch(text):
        return None
    q = Q(pk__in=[])
    for doc_type in DocumentType.values:
        try:
            q |= Q(document_type=doc_type) & identity_q("identity_number", text, document_type=doc_type)
        except IdentityNumberError:
            continue
    return q


class PersonFilterForm(forms.Form):
    def clean_q(self):
        value = (self.cleaned_data.get("q") or "").strip()
        if value:
            try:
                identity_search_q(value)
            except IdentityNumberError as exc:
                raise ValidationError(exc.messages[0]) from None
        return value


def _divisions(request):
    if request is None:
        return Division.objects.none()
    return (Division.objects.restrict(request.user, VIEW).filter(level__in=[Level.DISTRICT, Level.TOWN])
            .select_related("parent").order_by("path"))


def _workers(request):
    if request is None:
        return get_user_model().objects.none()
    assigned = Person.objects.restrict(request.user, VIEW).exclude(assigned_worker=None).values("assigned_worker")
    return get_user_model().objects.filter(pk__in=assigned).order_by("full_name", "username")


def _substances(request):
    from jindu.persons.forms import substances_for

    if request is None:
        return Person.drugs.field.related_model.objects.none()
    return substances_for(request.user)


class WorkerFilterField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return obj.full_name or obj.username


class DivisionFilter(django_filters.ModelChoiceFilter):
    field_class = DivisionChoiceField


class WorkerFilter(django_filters.ModelChoiceFilter):
    field_class = WorkerFilterField


DUE_CHOICES = [("overdue", _("已逾期")), ("today", _("今日到期")), ("week", _("本周到期"))]


class PersonFilterSet(django_filters.FilterSet):
    """Filters of the person list: ``q`` (name, alias or identity number), ``status``,
    ``tier`` (``none``: not assessed yet), ``drug``, ``division`` (district or town subtree),
    ``worker``, ``due`` (the person's earliest due item: overdue / today / this week)."""

    q = django_filters.CharFilter(label=_("姓名或证件号码"), method="filter_q")
    status = django_filters.ChoiceFilter(label=_("管控状态"), choices=Status.choices, empty_label=_("全部状态"))
    tier = django_filters.ChoiceFilter(label=_("风险等级"), choices=[*Tier.choices, (NO_TIER, _("未评估"))],
                                       empty_label=_("全部等级"), method="filter_tier")
    drug = django_filters.ModelChoiceFilter(label=_("毒品种类"), queryset=_substances, method="filter_drug",
                                            empty_label=_("全部种类"))
    division = DivisionFilter(label=_("区域"), queryset=_divisions, method="filter_division",
                              empty_label=_("全部区域"))
    worker = WorkerFilter(label=_("责任社工"), queryset=_workers, field_name="assigned_worker",
                          empty_label=_("全部社工"))
    due = django_filters.ChoiceFilter(label=_("待办"), choices=DUE_CHOICES, method="filter_due",
                                      empty_label=_("全部"))

    class Meta:
        model = Person
        fields = ["q", "status", "tier", "drug", "division", "worker", "due"]
        form = PersonFilterForm

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name, field in self.form.fields.items():
            is_select = isinstance(field.widget, forms.Select)
            field.widget.attrs.setdefault("class", "form-select" if is_select else "form-control")
        self.form.fields["q"].widget.attrs.setdefault("placeholder", _("姓名、别名或证件号码"))

    @property
    def is_search(self) -> bool:
        return bool(self.form.is_bound and self.data.get("q"))

    def error_text(self) -> str:
        parts = []
        for name, errors in self.form.errors.items():
            label = self.form.fields[name].label if name in self.form.fields else ""
            parts += [f"{label}：{e}" if label else str(e) for e in errors]
        return "；".join(parts)

    def filter_q(self, queryset, name, value):
        value = (value or "").strip()
        if not value:
            return queryset
        by_number = identity_search_q(value)
        by_name = Q(name__icontains=value) | Q(alias__icontains=value)
        return queryset.filter(by_number | by_name if by_number is not None else by_name)

    def filter_tier(self, queryset, name, value):
        return queryset.filter(tier="") if value == NO_TIER else queryset.filter(tier=value)

    def filter_drug(self, queryset, name, value):
        # ``pk__in`` keeps one row per person whatever the number of drugs.
        return queryset.filter(pk__in=Person.drugs.through.objects.filter(substance=value).values("person_id"))

    def filter_division(self, queryset, name, value):
        return queryset.filter(residence_division__path__startswith=value.path)

    def filter_due(self, queryset, name, value):
        today = local_today()
        if value == "overdue":
            return queryset.filter(next_due_on__lt=today)
        last = today if value == "today" else week_end(today)
        return queryset.filter(pk__in=DueItem.objects.filter(due_on__gte=today, due_on__lte=last).values("person_id"))
