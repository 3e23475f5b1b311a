"""The follow-ups page: overdue, today, upcoming; mark done and snooze."""

from django.contrib import messages
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from leads.accounts import permissions
from leads.core import followups
from leads.errors import ValidationFailed
from leads.views.common import agent_page, safe_next


@require_GET
@agent_page
def follow_up_list(request):
    everyone = permissions.can_view_team_leads(request.user) and request.GET.get("scope") == "team"
    groups = followups.grouped_follow_ups(user=request.user, now=timezone.now(), everyone=everyone)
    context = {"groups": groups, "everyone": everyone, "snooze_choices": followups.SNOOZE_CHOICES}
    return render(request, "followups/index.html", context)


@require_POST
@agent_page
def follow_up_done(request, task_id: int):
    task = followups.follow_up_complete(actor=request.user, task_id=task_id)
    messages.success(request, f"Done: {task.title}.")
    return HttpResponseRedirect(safe_next(request, reverse("leads:follow_ups")), status=303)


@require_POST
@agent_page
def follow_up_snooze(request, task_id: int):
    try:
        until = followups.snooze_target(request.POST.get("until", ""), now=timezone.now())
        task = followups.follow_up_snooze(actor=request.user, task_id=task_id, until=until)
    except ValidationFailed as exc:
        for message_list in exc.fields.values():
            for message in message_list:
                messages.error(request, message)
    else:
        messages.success(request, f"Snoozed until {timezone.localtime(task.due_at):%a %b %d, %H:%M}: {task.title}.")
    return HttpResponseRedirect(safe_next(request, reverse("leads:follow_ups")), status=303)
