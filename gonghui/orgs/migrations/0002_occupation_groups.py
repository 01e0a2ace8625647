"""The ten occupation groups the census classifies workers into: the "eight groups" first, in the
order national documents list them, then ride-hailing drivers and other platform work."""

from django.db import migrations

GROUPS = [
    ("truck_driver", "货车司机", "Truck drivers", True),
    ("courier", "快递员", "Couriers", True),
    ("rider", "外卖送餐员", "Food-delivery riders", True),
    ("carer", "护工护理员", "Carers", True),
    ("housekeeper", "家政服务员", "Housekeepers", True),
    ("mall_staff", "商场信息员", "Mall information staff", True),
    ("estate_agent", "房产中介员", "Estate agents", True),
    ("security_guard", "保安员", "Security guards", True),
    ("ride_hailing", "网约车司机", "Ride-hailing drivers", False),
    ("platform_other", "其他平台从业人员", "Other platform workers", False),
]


def create_groups(apps, schema_editor):
    OccupationGroup = apps.get_model("orgs", "OccupationGroup")
    for sort, (code, name, name_en, eight) in enumerate(GROUPS, start=1):
        OccupationGroup.objects.update_or_create(
            code=code, defaults={"name": name, "name_en": name_en, "is_eight_groups": eight, "sort": sort}
        )


def remove_groups(apps, schema_editor):
    OccupationGroup = apps.get_model("orgs", "OccupationGroup")
    OccupationGroup.objects.filter(code__in=[g[0] for g in GROUPS], covering_orgs__isnull=True).delete()


class Migration(migrations.Migration):
    dependencies = [("orgs", "0001_initial")]

    operations = [migrations.RunPython(create_groups, remove_groups)]
