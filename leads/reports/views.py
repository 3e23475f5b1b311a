"""The Reports pages (namespace "reports", under /reports/): the four reports with
their filters, chart and table, their CSV and PDF exports, and the spend page.
Managers see their team's figures; agents their own. Views parse the filters, call
the report and render; bad filters come back as field errors (the page: 422 as the
other pages' forms; the exports: 400)."""

import dataclasses

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_GET, require_http_methods

from leadmgmt.replica import reads_from_replica
from leads.accounts import permissions
from leads.core.inputs import flatten_errors
from leads.deals import selectors as deal_selectors
from leads.deals import services as deal_services
from leads.deals.inputs import SpendInput
from leads.errors import ValidationFailed
from leads.models import LeadSource, LeadType
from leads.reports import exports, registry, weekly
from leads.reports.filters import parse_filters
from leads.views.common import agent_page

SPEND_FILE_MAX_BYTES = 512 * 1024


def _report_or_404(name: str) -> str:
    if name not in registry.REPORTS:
        raise Http404("No such report.")
    return name


@require_GET
@agent_page
def report_index(request: HttpRequest) -> HttpResponse:
    return HttpResponseRedirect(reverse("reports:funnel"))


@require_GET
@agent_page
@reads_from_replica
def report_page(request: HttpRequest, name: str) -> HttpResponse:
    name = _report_or_404(name)
    user = request.user
    context = {
        "name": name,
        "reports": [(key, title, reverse(f"reports:{key}")) for key, (title, _) in registry.REPORTS.items()],
        "page_url": reverse(f"reports:{name}"),
        "sources": LeadSource.choices,
        "lead_types": LeadType.choices,
        "values": request.GET,
        "is_manager": permissions.can_see_team_reports(user),
    }
    try:
        filters = parse_filters(user, request.GET)
    except ValidationFailed as error:
        context.update(errors=error.fields, title=registry.REPORTS[name][0])
        # 422 as every page's form sent back with its errors (the HTMX config swaps it in).
        return render(request, "reports/report.html", context, status=422)
    options = {"by": "agent"} if name == "funnel" and request.GET.get("by") == "agent" and context["is_manager"] else {}
    report = registry.build(name, filters, **options)
    query = urlencode({**filters.as_params(), **options})
    context.update(
        report=report,
        title=report.title,
        filters=filters,
        agents=dataclasses.replace(filters, agent=None).agents() if context["is_manager"] else [],
        query=query,
        values={**filters.as_params(), **options},
    )
    return render(request, "reports/report.html", context)


@require_GET
@agent_page
@reads_from_replica
def report_export(request: HttpRequest, name: str, format: str) -> HttpResponse:
    name = _report_or_404(name)
    try:
        filters = parse_filters(request.user, request.GET)
    except ValidationFailed as error:
        lines = [f"{field}: {message}" for field, items in error.fields.items() for message in items]
        return HttpResponse("\n".join(lines), status=400, content_type="text/plain; charset=utf-8")
    options = {"by": "agent"} if name == "funnel" and request.GET.get("by") == "agent" else {}
    report = registry.build(name, filters, **options)
    stem = f"{name}-{filters.start.isoformat()}-{filters.end.isoformat()}"
    if format == "csv":
        response = HttpResponse(exports.to_csv(report), content_type="text/csv; charset=utf-8")
    else:
        response = HttpResponse(exports.to_pdf(report), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{stem}.{format}"'
    return response


@require_http_methods(["GET", "POST"])
@agent_page
def spend_page(request: HttpRequest) -> HttpResponse:
    """Managers: the spend per source and month, a form for one month and a CSV import."""
    user = request.user
    permissions.require(permissions.can_see_team_reports, user)
    errors, import_errors, status = {}, {}, 200
    if request.method == "POST":
        if "file" in request.FILES:
            upload = request.FILES["file"]
            if upload.size > SPEND_FILE_MAX_BYTES:
                errors = {"file": ["The file is larger than 512 KB."]}
            else:
                try:
                    text = upload.read().decode("utf-8-sig")
                    result = deal_services.spend_import_csv(actor=user, text=text)
                except UnicodeDecodeError:
                    errors = {"file": ["The file is not UTF-8 text."]}
                except ValidationFailed as error:
                    errors = error.fields
                else:
                    if result.errors:
                        import_errors = result.errors
                    else:
                        messages.success(
                            request, f"Imported {result.saved} spend row{'s' if result.saved != 1 else ''}."
                        )
                        return HttpResponseRedirect(reverse("reports:spend"), status=303)
        else:
            serializer = SpendInput(
                data={key: request.POST.get(key, "").strip() for key in ("source", "month", "amount")}
            )
            if serializer.is_valid():
                values = serializer.validated_data
                deal_services.spend_set(
                    actor=user, source=values["source"], month=values["month"], amount=values["amount"]
                )
                messages.success(request, "Spend saved.")
                return HttpResponseRedirect(reverse("reports:spend"), status=303)
            errors = flatten_errors(serializer.errors)
        status = 422  # the form sent back with its errors, as on every page
    rows = list(deal_selectors.spend_for(user).select_related("team")[:240])
    return render(
        request,
        "reports/spend.html",
        {
            "rows": rows,
            "sources": LeadSource.choices,
            "errors": errors,
            "import_errors": sorted(import_errors.items()),
            "values": request.POST if request.method == "POST" else {},
        },
        status=status,
    )


@require_http_methods(["GET", "POST"])
@agent_page
def email_settings(request: HttpRequest) -> HttpResponse:
    """Managers: whether the weekly report email comes (linked from every such email)."""
    user = request.user
    permissions.require(permissions.can_see_team_reports, user)
    if request.method == "POST":
        wants = request.POST.get("weekly") == "on"
        weekly.set_weekly_email(user=user, wanted=wants)
        messages.success(request, "The weekly report will be emailed to you." if wants else "No more weekly emails.")
        return HttpResponseRedirect(reverse("reports:email_settings"), status=303)
    return render(request, "reports/email.html", {"wanted": weekly.wants_weekly_email(user)})
