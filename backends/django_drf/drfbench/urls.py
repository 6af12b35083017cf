from api import views
from django.urls import path

urlpatterns = [
    path("health", views.health),
    path("json", views.json_payload),
    path("users/<int:user_id>", views.get_user),
    path("users", views.list_users),
    path("posts", views.create_post),
]
