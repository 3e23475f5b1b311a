from django.urls import path

from integrations.plans import pages, views

app_name = "plans"

urlpatterns = [
    path("inbound-email/<str:secret>", views.inbound_email, name="inbound_email"),
    # The pages (integrations.plans.pages).
    path("", pages.plan_list, name="plan_list"),
    path("new/", pages.plan_create, name="plan_create"),
    path("<int:plan_id>/", pages.plan_detail, name="plan_detail"),
    path("<int:plan_id>/steps/new/", pages.step_create, name="step_create"),
    path("<int:plan_id>/steps/<int:step_id>/", pages.step_edit, name="step_edit"),
    path("<int:plan_id>/steps/<int:step_id>/delete/", pages.step_delete, name="step_delete"),
    path("<int:plan_id>/steps/<int:step_id>/move/", pages.step_move, name="step_move"),
    path("<int:plan_id>/preview/", pages.plan_preview, name="plan_preview"),
    path("<int:plan_id>/who/", pages.plan_who, name="plan_who"),
    path("lead/<str:lead_id>/", pages.lead_plans, name="lead_plans"),
    path("lead/<str:lead_id>/start/", pages.lead_plan_start, name="lead_plan_start"),
    path("lead/<str:lead_id>/stop/", pages.lead_plan_stop, name="lead_plan_stop"),
    path("lead/<str:lead_id>/resume/", pages.lead_plan_resume, name="lead_plan_resume"),
    path("lead/<str:lead_id>/consent/", pages.lead_consent, name="lead_consent"),
]
