from django.core.management.base import BaseCommand

from portal.demo import DEMO_PASSWORD, seed_demo


class Command(BaseCommand):
    help = "Load the demo merchants, stores and users (idempotent)."

    def handle(self, *args, **options):
        merchants = seed_demo()
        self.stdout.write(
            f"Demo data ready: {len(merchants)} merchants; every demo password is "
            f"{DEMO_PASSWORD!r} (demo only)."
        )
