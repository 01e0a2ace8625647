from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("competitions", "0001_contests_banks_papers_attempts"),
    ]

    operations = [
        migrations.AddField(
            model_name="paper",
            name="bank_through",
            field=models.BigIntegerField(default=0, verbose_name="bank up to question id"),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="paper",
            name="orders",
            field=models.JSONField(default=list, verbose_name="option orders"),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="paper",
            name="avoided",
            field=models.JSONField(blank=True, default=list, verbose_name="questions seen in practice"),
        ),
    ]
