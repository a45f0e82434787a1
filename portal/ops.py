from django.contrib.admin.apps import AdminConfig


class OpsAdminConfig(AdminConfig):
    """Django's default admin site becomes the operator's site (/ops/, superusers)."""

    default_site = "portal.sites.OpsAdminSite"
