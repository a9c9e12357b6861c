from django import forms
from django.utils.translation import gettext_lazy as _

from jindu.accounts import selectors
from jindu.accounts.models import Role
from jindu.geo.models import Division


class GrantForm(forms.Form):
    role = forms.ModelChoiceField(label=_("角色"), queryset=Role.objects.none())
    division = forms.ModelChoiceField(label=_("管辖区划"), queryset=Division.objects.none())
    note = forms.CharField(label=_("备注"), max_length=255, required=False)

    def __init__(self, *args, actor, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["role"].queryset = selectors.roles()
        self.fields["division"].queryset = selectors.grant_divisions(actor).order_by("path")
        self.fields["division"].label_from_instance = lambda d: f"{'　' * max(d.depth - 2, 0)}{d.name}（{d.code}）"


class RevokeForm(forms.Form):
    reason = forms.CharField(label=_("撤销原因"), max_length=500, widget=forms.Textarea(attrs={"rows": 3}))
