"""The sandbox as its own web process: WeChat's API, console and payment pages."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
os.environ["ROOT_URLCONF"] = "sandbox.urls_root"

application = get_wsgi_application()
