"""A merchant's card figures are kept by the database (cards/figures.py): after any
write to the cards, whatever wrote it, each merchant's row equals what its cards
say, counted here in Python from the cards themselves."""

from __future__ import annotations

import random
import threading
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import close_old_connections, connection, transaction
from django.utils import timezone

from cards import figures
from cards.models import CardFigures, CardStatus, CardType, FriendCard
from portal.models import Merchant

STATUSES = [
    CardStatus.DRAFT,
    CardStatus.IN_REVIEW,
    CardStatus.APPROVED,
    CardStatus.APPROVED,
    CardStatus.REJECTED,
    CardStatus.DELETED,
]


def _expected() -> dict[int, tuple]:
    """Each merchant's figures, counted from its cards (no row without a card)."""
    found: dict[int, list] = {}
    for card in FriendCard.objects.all():
        row = found.setdefault(card.merchant_id, [0, 0, 0, 0, [], []])
        if card.status == CardStatus.IN_REVIEW:
            row[0] += 1
        elif card.status == CardStatus.REJECTED:
            row[2] += 1
        elif card.status == CardStatus.APPROVED:
            row[1] += 1
            row[3] += card.quantity
            row[4].append(card.quantity)
            if card.end_at is not None:
                row[5].append(card.end_at)
    return {
        pk: (
            r[0],
            r[1],
            r[2],
            r[3],
            min(r[4], default=None),
            min(r[5], default=None),
            max(r[5], default=None),
        )
        for pk, r in found.items()
    }


def _stored() -> dict[int, tuple]:
    return {
        f.merchant_id: (
            f.in_review,
            f.approved,
            f.rejected,
            f.stock,
            f.min_stock,
            f.first_end_at,
            f.last_end_at,
        )
        for f in CardFigures.objects.all()
    }


def _card(merchant, n, status=CardStatus.DRAFT, quantity=0, end_at=None):
    return FriendCard(
        merchant=merchant,
        card_type=CardType.CASH,
        status=status,
        card_id=None if status == CardStatus.DRAFT else f"pFig{merchant.pk}x{n}",
        title=f"全场满{100 + n}减10",
        quantity=quantity,
        end_at=end_at,
    )


def _merchants(n):
    return [
        Merchant.objects.create(name=f"Figures {i}", appid=f"wxfig{i:012d}")
        for i in range(n)
    ]


@pytest.mark.django_db
def test_every_kind_of_write_leaves_each_merchants_figures_equal_to_its_cards():
    rng = random.Random(8)
    now = timezone.now().replace(microsecond=0)
    merchants = _merchants(3)
    serial = iter(range(10_000))
    FriendCard.objects.bulk_create(
        _card(
            m,
            next(serial),
            status,
            rng.randrange(0, 60) if status == CardStatus.APPROVED else 0,
            now + timedelta(days=rng.randrange(-3, 40)),
        )
        for m in merchants
        for status in STATUSES
    )
    assert _stored() == _expected()
    for step in range(120):
        cards = list(FriendCard.objects.all())
        card = rng.choice(cards) if cards else None
        action = rng.randrange(7)
        if action == 0 or card is None:  # a new card, saved alone
            status = rng.choice(STATUSES)
            _card(
                rng.choice(merchants),
                next(serial),
                status,
                rng.randrange(60),
                rng.choice([None, now + timedelta(days=rng.randrange(-5, 30))]),
            ).save()
        elif action == 1:  # a conditional update, as the services write
            FriendCard.objects.filter(pk=card.pk).update(
                status=rng.choice(STATUSES[1:]), card_id=card.card_id or f"pFu{step}"
            )
        elif action == 2:  # stock bought or taken
            FriendCard.objects.filter(pk=card.pk).update(quantity=rng.randrange(60))
        elif action == 3:  # a model save
            card.end_at = now + timedelta(hours=rng.randrange(-100, 900))
            card.save()
        elif action == 4:
            card.delete()
        elif action == 5:  # moved to another merchant (the admin could)
            FriendCard.objects.filter(pk=card.pk).update(merchant=rng.choice(merchants))
        else:  # a bulk change over one merchant's cards
            FriendCard.objects.filter(merchant=card.merchant_id).update(
                quantity=rng.randrange(5)
            )
        assert _stored() == _expected(), (step, action)
    # The last card of a merchant gone: its row too.
    FriendCard.objects.filter(merchant=merchants[0]).delete()
    assert merchants[0].pk not in _stored()
    assert _stored() == _expected()


@pytest.mark.django_db
def test_the_rebuild_agrees_with_the_triggers_and_migrate_puts_them_back():
    merchants = _merchants(2)
    FriendCard.objects.bulk_create(
        _card(m, i, CardStatus.APPROVED, i, timezone.now())
        for m in merchants
        for i in range(4)
    )
    kept = _stored()
    figures.rebuild(connection)
    assert _stored() == kept == _expected()
    figures.uninstall(connection)
    FriendCard.objects.filter(merchant=merchants[0]).update(quantity=0)
    assert _stored() == kept  # no trigger: nothing followed
    call_command("migrate", verbosity=0)  # post_migrate installs them again
    FriendCard.objects.filter(merchant=merchants[1]).update(quantity=0)
    figures.rebuild(connection)
    assert _stored() == _expected()
    FriendCard.objects.filter(merchant=merchants[0]).update(quantity=7)
    assert _stored() == _expected()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_transactions_writing_one_merchants_cards_at_once_are_both_counted():
    """Under READ COMMITTED each transaction's trigger counts after the other's
    commit (the merchant's row is locked first): neither write is lost."""
    (merchant,) = _merchants(1)
    FriendCard.objects.bulk_create(
        _card(merchant, i, CardStatus.APPROVED, 10) for i in range(2)
    )
    first, second = FriendCard.objects.order_by("pk")
    inside = threading.Barrier(2)

    def write(card, quantity):
        try:
            with transaction.atomic():
                # Both transactions hold a snapshot before either has written.
                list(FriendCard.objects.filter(merchant=merchant))
                inside.wait(timeout=10)
                FriendCard.objects.filter(pk=card.pk).update(quantity=quantity)
                if card.pk == first.pk:
                    threading.Event().wait(0.3)  # the other one waits on the row
        finally:
            close_old_connections()
            connection.close()

    threads = [
        threading.Thread(target=write, args=(first, 3)),
        threading.Thread(target=write, args=(second, 40)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    row = CardFigures.objects.get(merchant=merchant)
    assert (row.stock, row.min_stock) == (43, 3)
    assert _stored() == _expected()
