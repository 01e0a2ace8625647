from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "gonghui.web"
    label = "web"
