from django.urls import path

from . import history, keys, views

app_name = "redemption"
urlpatterns = [
    path("", views.home, name="home"),
    path("store/", views.choose_store, name="choose_store"),
    path("history/", history.history, name="history"),
    path("history/export.csv", history.history_csv, name="history_csv"),
    path("keys/", keys.keys, name="keys"),
    path("keys/<int:key_id>/created/", keys.key_created, name="keys_created"),
    path("keys/<int:key_id>/revoke/", keys.key_revoke, name="keys_revoke"),
]
