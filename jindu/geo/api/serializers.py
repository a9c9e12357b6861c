from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from jindu.geo.models import Division


class DivisionSerializer(serializers.ModelSerializer):
    class Meta:
        model = Division
        fields = ["id", "code", "name", "level", "town_kind", "parent", "path", "depth", "is_active"]
        read_only_fields = fields


class GridCreateSerializer(serializers.Serializer):
    name = serializers.CharField(label=_("网格名称"), max_length=100)
    code = serializers.CharField(label=_("网格编码"), max_length=32, required=False, allow_blank=True,
                                 help_text=_("可不填，系统按“村居代码-序号”自动编号。"))


class GridRenameSerializer(serializers.Serializer):
    name = serializers.CharField(label=_("新名称"), max_length=100)
    reason = serializers.CharField(label=_("原因"), max_length=500, required=False, allow_blank=True)


class GridReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(label=_("原因"), max_length=500, required=False, allow_blank=True)
