from django import forms
from django.utils.translation import gettext_lazy as _

from jindu.accounts import selectors
from jindu.accounts.models import Role
from jindu.geo.forms import DivisionChoiceField
from jindu.geo.models import Division
from jindu.org.models import Unit


class GrantForm(forms.Form):
    role = forms.ModelChoiceField(label=_("角色"), queryset=Role.objects.none())
    division = DivisionChoiceField(label=_("管辖区划"), queryset=Division.objects.none())
    note = forms.CharField(label=_("备注"), max_length=255, required=False)

    def __init__(self, *args, actor, **kwargs):
        super().__init__(*args, **kwargs)
        # Only roles the actor could grant somewhere; the service still decides per division.
        self.fields["role"].queryset = selectors.grantable_roles(actor)
        self.fields["division"].queryset = selectors.grant_divisions(actor).order_by("path")


class RevokeForm(forms.Form):
    reason = forms.CharField(label=_("撤销原因"), max_length=500, widget=forms.Textarea(attrs={"rows": 3}))


class UserCreateForm(forms.Form):
    """New user: checks are the service's (:func:`jindu.accounts.services.create_user`)."""

    username = forms.CharField(label=_("用户名"), max_length=150)
    full_name = forms.CharField(label=_("姓名"), max_length=50)
    phone = forms.CharField(label=_("手机号"), max_length=32, required=False)
    unit = forms.ModelChoiceField(label=_("所在单位"), queryset=Unit.objects.none())
    password = forms.CharField(
        label=_("初始密码"), required=False, strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=_("留空则由系统生成一个随机密码，只显示一次。"),
    )

    def __init__(self, *args, actor, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["unit"].queryset = selectors.manageable_units(actor).filter(is_active=True).order_by("division__path", "name")
        self.fields["unit"].label_from_instance = lambda u: f"{u.name}（{u.division.name}）"


class ReasonForm(forms.Form):
    reason = forms.CharField(label=_("原因"), max_length=500, widget=forms.Textarea(attrs={"rows": 3}))


class PasswordResetForm(forms.Form):
    password = forms.CharField(
        label=_("新密码"), required=False, strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=_("留空则由系统生成一个随机密码，只显示一次。"),
    )
    reason = forms.CharField(label=_("原因"), max_length=500, required=False)


class OTPTokenForm(forms.Form):
    code = forms.RegexField(
        label=_("动态验证码"), regex=r"^\s*\d{6}\s*$", max_length=12,
        error_messages={"invalid": _("请输入身份验证器显示的 6 位数字。"), "required": _("请输入动态验证码。")},
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "one-time-code", "autofocus": True}),
    )
