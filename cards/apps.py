from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CardsConfig(AppConfig):
    name = "cards"
    verbose_name = _("Friend coupons")

    def ready(self) -> None:
        from . import handlers  # noqa: F401  (WeChat events and the dashboard)
