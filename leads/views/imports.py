"""CSV import (with live progress) and the import's error report."""

import csv

from django.contrib import messages
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET

from leads.errors import ValidationFailed
from leads.forms import ImportForm
from leads.imports import services as imports
from leads.imports import tasks
from leads.models import LeadImport
from leads.views.common import agent_page, render_invalid

RECENT_IMPORTS = 10


@agent_page
def import_page(request):
    if request.method == "POST":
        form = ImportForm(request.POST, request.FILES)
        if form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                job = tasks.start_import(
                    actor=request.user,
                    file_name=upload.name,
                    content=upload.read(imports.max_import_bytes() + 1),
                    route_unassigned=form.cleaned_data["route_unassigned"],
                )
            except ValidationFailed as exc:
                for message in exc.fields.get("file", [exc.message]):
                    form.add_error("file", message)
            else:
                messages.success(request, f"Importing {job.file_name}: {job.total_rows} rows.")
                return HttpResponseRedirect(reverse("leads:import_detail", args=[job.pk]), status=303)
        return render_invalid(request, "imports/index.html", _page_context(request, form))
    return render(request, "imports/index.html", _page_context(request, ImportForm()))


def _page_context(request, form: ImportForm) -> dict:
    recent = LeadImport.objects.filter(created_by=request.user).defer("source_text", "row_errors")[:RECENT_IMPORTS]
    return {
        "form": form,
        "recent": list(recent),
        "columns": imports.IMPORT_COLUMNS,
        "max_rows": imports.max_import_rows(),
        "max_megabytes": imports.max_import_bytes() // (1024 * 1024),
    }


@require_GET
@agent_page
def import_detail(request, import_id: int):
    return render(request, "imports/detail.html", {"job": _own_import(request, import_id)})


@require_GET
@agent_page
def import_progress(request, import_id: int):
    """The progress bar alone, polled by HTMX until the import has finished."""
    return render(request, "imports/_progress.html", {"job": _own_import(request, import_id)})


@require_GET
@agent_page
def import_errors_csv(request, import_id: int):
    job = _own_import(request, import_id)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="import-{job.pk}-errors.csv"'
    writer = csv.writer(response)
    writer.writerows(imports.error_report_rows(job))
    return response


def _own_import(request, import_id: int) -> LeadImport:
    # row_errors (up to IMPORT_MAX_LISTED_ERRORS rows) is read only where it is shown:
    # not on every poll of a running import's progress.
    job = LeadImport.objects.filter(created_by=request.user, pk=import_id).defer("source_text", "row_errors").first()
    if job is None:
        raise Http404("Import not found.")
    return job
