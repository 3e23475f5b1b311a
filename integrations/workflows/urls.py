from django.urls import path

from integrations.workflows import views

app_name = "workflows"

urlpatterns = [
    path("<str:token>", views.unsubscribe, name="unsubscribe"),
]
