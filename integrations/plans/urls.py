from django.urls import path

from integrations.plans import views

app_name = "plans"

urlpatterns = [
    path("inbound-email/<str:secret>", views.inbound_email, name="inbound_email"),
]
