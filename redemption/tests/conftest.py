"""Redemption fixtures (the shared ones — stocked_card, receive — are in conftest.py)."""

from __future__ import annotations

import pytest

from portal.models import Store


@pytest.fixture
def till_store(stocked_card) -> Store:
    return Store.objects.get(merchant=stocked_card.merchant, poi_id="100001")
