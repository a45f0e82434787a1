from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SandboxConfig(AppConfig):
    name = "sandbox"
    verbose_name = _("WeChat sandbox")

    def ready(self) -> None:
        # The backends register their ticker hooks (automatic reviews, refunds).
        from .backends import cards, coins, component  # noqa: F401
