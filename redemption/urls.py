from django.urls import path

from . import views

app_name = "redemption"
urlpatterns = [
    path("", views.home, name="home"),
    path("store/", views.choose_store, name="choose_store"),
]
