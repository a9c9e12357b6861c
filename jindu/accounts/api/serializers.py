from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from jindu.accounts.models import Role, RoleAssignment, User
from jindu.core.api import ScopedRelatedField
from jindu.geo.models import Division
from jindu.org.models import Unit


class GrantSummarySerializer(serializers.ModelSerializer):
    role = serializers.SlugRelatedField(slug_field="code", read_only=True)
    division = serializers.SlugRelatedField(slug_field="code", read_only=True)

    class Meta:
        model = RoleAssignment
        fields = ["id", "role", "division"]


class UserSerializer(serializers.ModelSerializer):
    # Only the grants the requesting user may see (prefetched through restrict()).
    grants = GrantSummarySerializer(source="visible_grants", many=True, read_only=True)

    class Meta:
        model = User
        fields = ["id", "username", "full_name", "phone", "unit", "is_active", "is_demo", "grants"]
        read_only_fields = fields


class RoleAssignmentSerializer(serializers.ModelSerializer):
    user = ScopedRelatedField(User, label=_("用户"))
    role = serializers.SlugRelatedField(slug_field="code", queryset=Role.objects.all(), label=_("角色"))
    division = ScopedRelatedField(Division, label=_("管辖区划"))
    note = serializers.CharField(required=False, allow_blank=True, max_length=255, label=_("备注"))

    class Meta:
        model = RoleAssignment
        fields = ["id", "user", "role", "division", "note", "granted_by", "granted_at"]
        read_only_fields = ["granted_by", "granted_at"]
        validators = []  # duplicates are refused by grant_role with a clear message


class RevokeSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=500, label=_("撤销原因"))


class TokenSerializer(serializers.Serializer):
    key = serializers.CharField(read_only=True)
    created = serializers.DateTimeField(read_only=True)


class UserCreateSerializer(serializers.Serializer):
    """Body of ``POST /api/users/``; checks beyond shape are the service's."""

    username = serializers.CharField(max_length=150, label=_("用户名"))
    full_name = serializers.CharField(max_length=50, label=_("姓名"))
    phone = serializers.CharField(max_length=32, required=False, allow_blank=True, label=_("手机号"))
    unit = ScopedRelatedField(Unit, label=_("所在单位"))
    password = serializers.CharField(required=False, allow_blank=True, write_only=True, trim_whitespace=False,
                                     label=_("初始密码"),
                                     help_text=_("留空则由系统生成，只在本次响应的 password 字段中返回一次。"))


class ReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=500, label=_("原因"))
