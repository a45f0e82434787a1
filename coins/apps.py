from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoinsConfig(AppConfig):
    name = "coins"
    verbose_name = _("Coins and stock")

    def ready(self) -> None:
        from . import handlers  # noqa: F401  (card_pay_order and the dashboard)
