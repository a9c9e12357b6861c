"""Account pages: users in scope, a user's grants, grant and revoke forms, own API token."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.views.generic import DetailView, FormView, ListView, TemplateView
from rest_framework.authtoken.models import Token

from jindu.accounts import selectors, services
from jindu.accounts.forms import GrantForm, RevokeForm
from jindu.accounts.models import RoleAssignment, User
from jindu.core.models import AccessLog
from jindu.core.scope import ADD, DELETE, has_model_permission
from jindu.core.views.mixins import AccessLogMixin, ScopedObjectMixin, ScopedPermissionMixin, ScopedQuerysetMixin


class UserListView(ScopedQuerysetMixin, AccessLogMixin, ListView):
    model = User
    access_log_kind = AccessLog.Kind.LIST
    paginate_by = 50
    template_name = "accounts/user_list.html"

    def get_queryset(self):
        qs = selectors.users_for(self.request.user).order_by("username", "pk")
        q = self.request.GET.get("q", "").strip()
        if q:
            qs = qs.filter(Q(username__icontains=q) | Q(full_name__icontains=q))
        return qs

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        if self.request.GET.get("q"):
            self.access_log_kind = AccessLog.Kind.SEARCH
        self.log_access(ctx["object_list"] if not ctx["is_paginated"] else ctx["page_obj"].object_list,
                        result_count=ctx["paginator"].count if ctx["paginator"] else len(ctx["object_list"]))
        ctx["q"] = self.request.GET.get("q", "")
        return ctx


class UserDetailView(ScopedObjectMixin, AccessLogMixin, DetailView):
    model = User
    access_log_kind = AccessLog.Kind.VIEW
    template_name = "accounts/user_detail.html"
    context_object_name = "account"  # "user" is the signed-in user in every template

    def get_base_queryset(self):
        return User.objects.select_related("unit")

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        self.log_access([self.object])
        actor = self.request.user
        ctx["grants"] = selectors.grants_visible_to(actor, user=self.object)
        ctx["may_grant"] = has_model_permission(actor, RoleAssignment, ADD) and actor.pk != self.object.pk
        ctx["revocable"] = set(
            RoleAssignment.objects.restrict(actor, DELETE).filter(user=self.object).values_list("pk", flat=True)
        )
        return ctx


class GrantView(ScopedPermissionMixin, FormView):
    model = RoleAssignment
    action = ADD
    form_class = GrantForm
    template_name = "accounts/grant_form.html"

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated:
            self.account = get_object_or_404(selectors.users_for(request.user), pk=kwargs["pk"])
        return super().dispatch(request, *args, **kwargs)

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "actor": self.request.user}

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), "account": self.account}

    def form_valid(self, form):
        data = form.cleaned_data
        try:
            services.grant_role(actor=self.request.user, user=self.account, role=data["role"],
                                division=data["division"], note=data["note"])
        except (PermissionDenied, ValidationError) as exc:
            form.add_error(None, exc.messages[0] if hasattr(exc, "messages") else str(exc))
            return self.form_invalid(form)
        messages.success(self.request, _("已授予角色“%(role)s”。") % {"role": data["role"].name})
        return redirect("accounts:user_detail", pk=self.account.pk)


class RevokeView(ScopedPermissionMixin, FormView):
    model = RoleAssignment
    action = DELETE
    form_class = RevokeForm
    template_name = "accounts/revoke_form.html"

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated:
            self.assignment = get_object_or_404(
                RoleAssignment.objects.restrict(request.user, DELETE).select_related("user", "role", "division"),
                pk=kwargs["pk"],
            )
        return super().dispatch(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), "assignment": self.assignment}

    def form_valid(self, form):
        try:
            services.revoke_role(actor=self.request.user, assignment=self.assignment,
                                 reason=form.cleaned_data["reason"])
        except (PermissionDenied, ValidationError) as exc:
            form.add_error(None, exc.messages[0] if hasattr(exc, "messages") else str(exc))
            return self.form_invalid(form)
        messages.success(self.request, _("已撤销授权。"))
        return redirect("accounts:user_detail", pk=self.assignment.user_id)


class TokenPageView(LoginRequiredMixin, TemplateView):
    """The signed-in user's own API token: make a new one (shown once) or revoke it."""

    template_name = "accounts/token.html"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx["token"] = Token.objects.filter(user=self.request.user).only("created").first()
        ctx["api_docs_url"] = reverse("api:docs")
        return ctx

    def post(self, request, *args, **kwargs):
        if request.POST.get("op") == "revoke":
            services.revoke_token(actor=request.user, user=request.user)
            messages.success(request, _("API 令牌已作废。"))
            return redirect("accounts:token")
        token = services.create_token(actor=request.user, user=request.user)
        ctx = self.get_context_data(new_key=token.key)
        return self.render_to_response(ctx)
