from rest_framework import serializers

from jindu.geo.models import Division


class DivisionSerializer(serializers.ModelSerializer):
    class Meta:
        model = Division
        fields = ["id", "code", "name", "level", "town_kind", "parent", "path", "depth", "is_active"]
        read_only_fields = fields
