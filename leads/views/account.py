"""The signed-in user's own settings: time zone, working hours, time off."""

from django.contrib import messages
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_POST

from leads.accounts import availability, services
from leads.accounts.forms import ScheduleForm, TimeOffForm
from leads.models import TimeOff
from leads.views.common import agent_page, render_invalid

TEMPLATE = "accounts/settings.html"


@agent_page
def settings_page(request):
    form = ScheduleForm(request.POST or None, user=request.user)
    if request.method == "POST":
        if not form.is_valid():
            return render_invalid(request, TEMPLATE, _context(request, form=form))
        services.schedule_save(user=request.user, time_zone=form.cleaned_data["time_zone"], week=form.week())
        messages.success(request, "Your time zone and working hours are saved.")
        return HttpResponseRedirect(reverse("leads:settings"))
    return render(request, TEMPLATE, _context(request, form=form))


@agent_page
@require_POST
def time_off_add(request):
    form = TimeOffForm(request.POST)
    if not form.is_valid():
        return render_invalid(request, TEMPLATE, _context(request, time_off_form=form))
    services.time_off_add(user=request.user, **form.cleaned_data)
    messages.success(request, "Time off added.")
    return HttpResponseRedirect(reverse("leads:settings"))


@agent_page
@require_POST
def time_off_delete(request, time_off_id: int):
    services.time_off_remove(user=request.user, time_off_id=time_off_id)
    messages.success(request, "Time off removed.")
    return HttpResponseRedirect(reverse("leads:settings"))


def _context(request, *, form=None, time_off_form=None) -> dict:
    return {
        "form": form or ScheduleForm(user=request.user),
        "time_off_form": time_off_form or TimeOffForm(),
        "time_off": TimeOff.objects.filter(user=request.user),
        "zone": availability.user_zone(request.user).key,
    }
