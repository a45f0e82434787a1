from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PortalConfig(AppConfig):
    name = "portal"
    verbose_name = _("Merchant")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import dashboard_sections  # noqa: F401  (registers sections)
