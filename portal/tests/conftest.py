"""Fixtures of the portal's tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def provider(live_demo):
    """Demo Provider, a component at the live sandbox (no ticket yet), with Tea
    House and Noodle Bar authorized to it (SPEC §8)."""
    from portal.models import Provider

    return Provider.objects.get(name="Demo Provider")
