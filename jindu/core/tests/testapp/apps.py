from django.apps import AppConfig


class TestappConfig(AppConfig):
    name = "jindu.core.tests.testapp"
    label = "testapp"
