from django.urls import path

from integrations.sms import views

app_name = "sms"

urlpatterns = [
    path("status/<str:token>", views.status_callback, name="status_callback"),
    path("inbound", views.inbound, name="inbound"),
]
