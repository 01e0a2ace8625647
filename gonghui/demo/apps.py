from django.apps import AppConfig


class DemoConfig(AppConfig):
    name = "gonghui.demo"
    label = "demo"
