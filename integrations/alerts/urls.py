"""The Notifications page and its endpoints (namespace "alerts"), under /notifications/."""

from django.urls import path

from integrations.alerts import views

app_name = "alerts"

urlpatterns = [
    path("", views.notifications, name="notifications"),
    path("push-subscriptions/", views.push_subscribe, name="push_subscribe"),
    path("push-subscriptions/unsubscribe/", views.push_unsubscribe, name="push_unsubscribe"),
    path(
        "push-subscriptions/<int:subscription_id>/remove/",
        views.push_subscription_remove,
        name="push_subscription_remove",
    ),
]
