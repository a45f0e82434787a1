from django.urls import path

from . import views

app_name = "redemption"
urlpatterns = [path("", views.home, name="home")]
