"""Account pages: users in scope, a user's grants, grant and revoke forms, own API token;
creating users, deactivating/reactivating them, password and second-factor resets; the
second-factor step after login (:mod:`jindu.accounts.otp`)."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.mixins import LoginRequiredMixin
from django.contrib.auth.signals import user_login_failed
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext_lazy as _
from django.views.generic import DetailView, FormView, ListView, TemplateView
from rest_framework.authtoken.models import Token

from jindu.accounts import otp, selectors, services
from jindu.accounts.forms import GrantForm, OTPTokenForm, PasswordResetForm, ReasonForm, RevokeForm, UserCreateForm
from jindu.accounts.models import RoleAssignment, User
from jindu.core.models import AccessLog
from jindu.core.scope import ADD, CHANGE, DELETE, has_model_permission
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
        ctx["may_create"] = has_model_permission(self.request.user, User, ADD)
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
        ctx["may_manage"] = _may_manage(actor, self.object)
        ctx["otp_available"] = otp.otp_installed()
        return ctx


def _may_manage(actor, account) -> bool:
    if not has_model_permission(actor, User, CHANGE):
        return False
    try:
        services.check_may_manage_user(actor=actor, user=account)
    except PermissionDenied:
        return False
    return True


def _form_errors_from(form, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)


class UserCreateView(ScopedPermissionMixin, FormView):
    """New user in a unit within the actor's scope; a generated password is shown once."""

    model = User
    action = ADD
    form_class = UserCreateForm
    template_name = "accounts/user_form.html"

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "actor": self.request.user}

    def form_valid(self, form):
        data = form.cleaned_data
        try:
            account, generated = services.create_user(
                actor=self.request.user, username=data["username"], full_name=data["full_name"],
                phone=data["phone"], unit=data["unit"], password=data["password"] or None,
            )
        except ValidationError as exc:
            _form_errors_from(form, exc)
            return self.form_invalid(form)
        except PermissionDenied as exc:
            form.add_error(None, str(exc))
            return self.form_invalid(form)
        if generated:
            return render(self.request, "accounts/password_shown.html",
                          {"account": account, "password": generated, "created": True})
        messages.success(self.request, _("已创建用户“%(user)s”。") % {"user": account})
        return redirect("accounts:user_detail", pk=account.pk)


class _ManageUserView(ScopedPermissionMixin, FormView):
    """Base for actions on one user: the user is fetched through ``restrict(actor, "change")``
    (out of scope → 404); the service decides the escalation rule."""

    model = User
    action = CHANGE
    form_class = ReasonForm

    def dispatch(self, request, *args, **kwargs):
        # No permission at all → 403 (by the mixin) before any row is looked up.
        if request.user.is_authenticated and has_model_permission(request.user, User, CHANGE):
            self.account = get_object_or_404(
                User.objects.restrict(request.user, CHANGE).select_related("unit"), pk=kwargs["pk"]
            )
            # Visible but not manageable (wider roles, own account, staff): refuse the page
            # itself, not only its POST.
            services.check_may_manage_user(actor=request.user, user=self.account)
        return super().dispatch(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), "account": self.account}

    def run(self, data):  # pragma: no cover - abstract
        raise NotImplementedError

    def form_valid(self, form):
        try:
            response = self.run(form.cleaned_data)
        except ValidationError as exc:
            _form_errors_from(form, exc)
            return self.form_invalid(form)
        except PermissionDenied as exc:
            form.add_error(None, str(exc))
            return self.form_invalid(form)
        return response or redirect("accounts:user_detail", pk=self.account.pk)


class UserActiveView(_ManageUserView):
    """Deactivate (``active=False``) or reactivate a user, with a reason."""

    template_name = "accounts/user_active_form.html"
    active = False

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), "activate": self.active}

    def run(self, data):
        services.set_user_active(actor=self.request.user, user=self.account, active=self.active,
                                 reason=data["reason"])
        messages.success(self.request, _("已启用该账号。") if self.active else _("已停用该账号。"))


class PasswordResetView(_ManageUserView):
    form_class = PasswordResetForm
    template_name = "accounts/password_reset_form.html"

    def run(self, data):
        generated = services.reset_password(actor=self.request.user, user=self.account,
                                            password=data["password"] or None, reason=data["reason"])
        if generated:
            return render(self.request, "accounts/password_shown.html",
                          {"account": self.account, "password": generated, "created": False})
        messages.success(self.request, _("已重置密码。"))


class OTPResetView(_ManageUserView):
    template_name = "accounts/otp_reset_form.html"

    def dispatch(self, request, *args, **kwargs):
        if not otp.otp_installed():
            raise Http404
        return super().dispatch(request, *args, **kwargs)

    def run(self, data):
        services.reset_otp(actor=self.request.user, user=self.account, reason=data["reason"])
        messages.success(self.request, _("已重置二次验证，该用户下次登录时需重新绑定身份验证器。"))


class OTPView(LoginRequiredMixin, FormView):
    """The second-factor step: enrol a TOTP device (QR code and secret) or enter a code.

    Wrong codes count as failed logins for django-axes (same lockout as wrong passwords)
    and against django-otp's per-device throttle; see :mod:`jindu.accounts.otp`.
    """

    form_class = OTPTokenForm
    template_name = "registration/otp.html"

    def dispatch(self, request, *args, **kwargs):
        if not otp.otp_installed():
            raise Http404
        if request.user.is_authenticated and otp.is_verified(request.user):
            return redirect(self.next_url())
        return super().dispatch(request, *args, **kwargs)

    def next_url(self) -> str:
        target = self.request.POST.get("next") or self.request.GET.get("next") or ""
        if target and url_has_allowed_host_and_scheme(target, {self.request.get_host()},
                                                      require_https=self.request.is_secure()):
            return target
        return reverse(settings.LOGIN_REDIRECT_URL)

    def get_device(self):
        device = otp.confirmed_device(self.request.user)
        return (device, False) if device is not None else (otp.pending_device(self.request.user), True)

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        device, enrolling = self.get_device()
        ctx.update(enrolling=enrolling, next=self.next_url(), demo=settings.JINDU_DEMO,
                   required=otp.otp_required(self.request.user))
        if enrolling:
            ctx.update(qr_data_uri=otp.qr_data_uri(device), secret=otp.secret_text(device))
        return ctx

    def _locked_out(self):
        from axes.handlers.proxy import AxesProxyHandler

        return AxesProxyHandler.is_locked(self.request, {"username": self.request.user.get_username()})

    def _lockout_response(self):
        logout(self.request)
        return render(self.request, "registration/locked_out.html", status=429)

    def post(self, request, *args, **kwargs):
        if self._locked_out():
            return self._lockout_response()
        return super().post(request, *args, **kwargs)

    def form_valid(self, form):
        import django_otp

        user = self.request.user
        device, enrolling = self.get_device()
        allowed, info = device.verify_is_allowed()
        if not allowed:
            form.add_error("code", _("验证码错误次数过多，请稍后再试。"))
            return self.form_invalid(form)
        if not device.verify_token(form.cleaned_data["code"].strip()):
            user_login_failed.send(sender=__name__, credentials={"username": user.get_username()},
                                   request=self.request)
            if getattr(self.request, "axes_locked_out", False) or self._locked_out():
                return self._lockout_response()
            form.add_error("code", _("验证码不正确或已过期，请输入身份验证器当前显示的 6 位数字。"))
            return self.form_invalid(form)
        if enrolling:
            services.confirm_otp_device(user=user, device=device)
            messages.success(self.request, _("已绑定身份验证器。以后登录时需要输入其中显示的动态验证码。"))
        django_otp.login(self.request, device)
        return redirect(self.next_url())


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
