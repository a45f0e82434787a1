"""Channels: a stable integer outer_id (and outer_str) per channel, unique per
merchant, allocated without a race and never given twice (SPEC §6)."""

from __future__ import annotations

import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction

from distribution import services
from distribution.models import Channel, DistributionEvent


@pytest.mark.django_db
def test_channels_are_numbered_per_merchant_from_one(demo):
    bistro, other = demo["Demo Bistro"], demo["Other Shop"]
    made = [
        services.channel_create(merchant=bistro, name=n)
        for n in ("Window poster", "Table 12", "Cashier desk")
    ]
    assert [(c.outer_id, c.outer_str) for c in made] == [
        (1, "ch-1"),
        (2, "ch-2"),
        (3, "ch-3"),
    ]
    assert services.channel_create(merchant=other, name="Window poster").outer_id == 1
    assert (
        DistributionEvent.objects.filter(
            merchant=bistro, kind=DistributionEvent.Kind.CHANNEL_CREATED
        ).count()
        == 3
    )


@pytest.mark.django_db
def test_a_rename_keeps_the_numbers_and_a_number_is_never_given_twice(demo):
    bistro = demo["Demo Bistro"]
    first = services.channel_create(merchant=bistro, name="Window poster")
    services.channel_rename(channel=first, name="Front window")
    first.refresh_from_db()
    assert (first.name, first.outer_id, first.outer_str) == ("Front window", 1, "ch-1")
    second = services.channel_create(merchant=bistro, name="Table 12")
    second.delete()
    assert services.channel_create(merchant=bistro, name="Table 12").outer_id == 3


@pytest.mark.django_db
def test_a_bad_or_taken_name_is_an_error_on_it_and_writes_nothing(demo):
    bistro = demo["Demo Bistro"]
    services.channel_create(merchant=bistro, name="Window poster")
    for name in ("", "   ", "x" * 41, "Window poster", " Window poster "):
        with pytest.raises(ValidationError) as refused:
            services.channel_create(merchant=bistro, name=name)
        assert set(refused.value.message_dict) == {"name"}, name
    assert Channel.objects.filter(merchant=bistro).count() == 1
    # the refused ones took no number
    assert services.channel_create(merchant=bistro, name="Table 12").outer_id == 2


@pytest.mark.django_db
def test_the_database_refuses_a_second_channel_with_the_same_number(demo):
    bistro = demo["Demo Bistro"]
    services.channel_create(merchant=bistro, name="Window poster")
    with pytest.raises(IntegrityError), transaction.atomic():
        Channel.objects.create(
            merchant=bistro, name="Copy", outer_id=1, outer_str="ch-x"
        )
    with pytest.raises(IntegrityError), transaction.atomic():
        Channel.objects.create(
            merchant=bistro, name="Zero", outer_id=0, outer_str="ch-0"
        )


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_channels_made_at_once_get_distinct_consecutive_numbers(demo):
    bistro = demo["Demo Bistro"]
    barrier, made, failed = threading.Barrier(8), [], []

    def make(i: int) -> None:
        try:
            barrier.wait()
            made.append(
                services.channel_create(merchant=bistro, name=f"Table {i}").outer_id
            )
        except Exception as exc:
            failed.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=make, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failed == []
    assert sorted(made) == list(range(1, 9))
