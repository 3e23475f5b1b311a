from django.urls import path

from integrations.property_alerts import pages, views

app_name = "property_alerts"

urlpatterns = [
    # Public: the signed links of alert emails (views).
    path("f/<str:token>/", views.frequency, name="frequency"),
    path("o/<str:token>/", views.open_pixel, name="open"),
    path("c/<str:token>/", views.click, name="click"),
    path("l/<str:token>/", views.listing, name="listing"),
    # The agents' side (pages).
    path("lead/<str:lead_id>/", pages.lead_alerts, name="lead_alerts"),
    path("lead/<str:lead_id>/frequency/", pages.lead_frequency, name="lead_frequency"),
]
