from django.apps import AppConfig
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.utils.translation import gettext_lazy as _


class DistributionConfig(AppConfig):
    name = "distribution"
    verbose_name = _("Distribution")

    def ready(self) -> None:
        from cards.models import FriendCard
        from portal.models import Merchant

        from .models import Campaign, Channel
        from .selectors import forget_pages

        # What a held campaign page shows changed: read it again (selectors.PAGE_TTL).
        for model in (Campaign, FriendCard, Channel, Merchant):
            post_save.connect(forget_pages, sender=model, dispatch_uid=f"pages-{model}")
            post_delete.connect(
                forget_pages, sender=model, dispatch_uid=f"pages-d-{model}"
            )
        m2m_changed.connect(
            forget_pages, sender=Campaign.cards.through, dispatch_uid="pages-cards"
        )
