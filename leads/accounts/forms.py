"""The forms of a user's own settings page."""

from django import forms

from leads.accounts import availability
from leads.models import TimeOff, User, WorkingHours


class ScheduleForm(forms.Form):
    """The user's zone, and one stretch of working hours per weekday (both times or neither)."""

    time_zone = forms.ChoiceField(required=False, label="Time zone")

    def __init__(self, *args, user: User, **kwargs):
        super().__init__(*args, **kwargs)
        team_zone = availability.team_zone(user.team).key
        self.fields["time_zone"].choices = [("", f"My team's ({team_zone})"), *availability.time_zone_choices()]
        self.fields["time_zone"].initial = user.time_zone
        current = {row.weekday: row for row in WorkingHours.objects.filter(user=user).order_by("weekday", "starts_at")}
        for weekday, label in WorkingHours.Weekday.choices:
            row = current.get(weekday)
            widget = forms.TimeInput(attrs={"type": "time"}, format="%H:%M")
            self.fields[f"start_{weekday}"] = forms.TimeField(
                required=False, label=f"{label} from", widget=widget, initial=row.starts_at if row else None
            )
            self.fields[f"end_{weekday}"] = forms.TimeField(
                required=False, label=f"{label} to", widget=widget, initial=row.ends_at if row else None
            )

    def days(self) -> list[tuple[str, forms.BoundField, forms.BoundField]]:
        return [
            (label, self[f"start_{weekday}"], self[f"end_{weekday}"]) for weekday, label in WorkingHours.Weekday.choices
        ]

    def clean(self):
        cleaned = super().clean()
        for weekday, label in WorkingHours.Weekday.choices:
            start, end = cleaned.get(f"start_{weekday}"), cleaned.get(f"end_{weekday}")
            if (start is None) != (end is None):
                self.add_error(f"end_{weekday}", f"Give both times for {label}, or neither for a day off.")
            elif start is not None and end <= start:
                self.add_error(f"end_{weekday}", "The end must be after the start.")
        return cleaned

    def week(self) -> dict[int, tuple | None]:
        data = self.cleaned_data
        return {
            weekday: (data[f"start_{weekday}"], data[f"end_{weekday}"]) if data.get(f"start_{weekday}") else None
            for weekday, _ in WorkingHours.Weekday.choices
        }


class TimeOffForm(forms.ModelForm):
    class Meta:
        model = TimeOff
        fields = ("starts_on", "ends_on", "note")
        widgets = {
            "starts_on": forms.DateInput(attrs={"type": "date"}),
            "ends_on": forms.DateInput(attrs={"type": "date"}),
        }
        labels = {"starts_on": "First day off", "ends_on": "Last day off", "note": "Note (optional)"}

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("starts_on") and cleaned.get("ends_on") and cleaned["ends_on"] < cleaned["starts_on"]:
            self.add_error("ends_on", "The last day must be on or after the first.")
        return cleaned
