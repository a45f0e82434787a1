from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


def _install_figures(sender, using, plan=None, **kwargs) -> None:
    """The card figures' triggers, put back after every migrate (SQLite drops them
    when a migration rebuilds the cards table): cards/figures.py."""
    from django.db import connections

    from . import figures

    connection = connections[using]
    if figures.FIGURES not in connection.introspection.table_names():
        return  # migrated back before cards 0004
    figures.install(connection)


class CardsConfig(AppConfig):
    name = "cards"
    verbose_name = _("Friend coupons")

    def ready(self) -> None:
        from . import handlers  # noqa: F401  (WeChat events and the dashboard)

        post_migrate.connect(_install_figures, sender=self)
