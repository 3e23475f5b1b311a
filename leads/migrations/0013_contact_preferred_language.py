from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("leads", "0012_teams_working_hours_time_off"),
    ]

    operations = [
        migrations.AddField(
            model_name="contact",
            name="preferred_language",
            field=models.CharField(blank=True, help_text='A short code ("en", "es"); routing matches on it.', max_length=8),
        ),
    ]
