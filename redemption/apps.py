from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RedemptionConfig(AppConfig):
    name = "redemption"
    verbose_name = _("Redemption")

    def ready(self) -> None:
        from . import dashboard_sections, handlers  # noqa: F401
