from django.apps import AppConfig


class RegionsConfig(AppConfig):
    name = "gonghui.regions"
    label = "regions"
