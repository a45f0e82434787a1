"""Distribution's pure rules (SPEC §6, §3.6): the numbers here are SPEC's."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from distribution import rules

OK = dict(
    submitted=True,
    approved=True,
    deleted=False,
    ended=False,
    quantity=5,
    whitelist_size=0,
    is_unique_code=False,
)


@pytest.mark.parametrize(
    ("typed", "expected"),
    [("", None), (None, None), ("  ", None), ("60", 60), (1800, 1800), (" 600 ", 600)],
)
def test_expire_seconds_blank_is_permanent_and_60_to_1800_expire(typed, expected):
    assert rules.parse_expire_seconds(typed) == (expected, {})


@pytest.mark.parametrize("typed", ["59", "1801", "0", "-5", "abc", "1e3", "６０", True])
def test_expire_seconds_outside_60_to_1800_is_an_error_on_its_field(typed):
    seconds, errors = rules.parse_expire_seconds(typed)
    assert seconds is None and set(errors) == {"expire_seconds"}


def test_an_approved_card_gets_qr_codes():
    assert rules.qrcode_errors(**OK) == {}
    assert rules.qrcode_errors(**{**OK, "is_unique_code": True}) == {}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"submitted": False}, "card"),
        ({"deleted": True}, "card"),
        ({"ended": True}, "card"),
        ({"approved": False}, "card"),  # in review, nobody on the test whitelist
        (
            {"approved": False, "whitelist_size": 1, "is_unique_code": True},
            "is_unique_code",
        ),
        ({"quantity": 0, "is_unique_code": True}, "is_unique_code"),
    ],
)
def test_qr_code_refusals_name_their_field(change, field):
    assert set(rules.qrcode_errors(**{**OK, **change})) == {field}


def test_a_card_in_review_gets_a_qr_code_while_the_whitelist_has_someone():
    assert rules.qrcode_errors(**{**OK, "approved": False, "whitelist_size": 1}) == {}
    # without stock too: a whitelisted receive needs none (SPEC §6)
    assert (
        rules.qrcode_errors(
            **{**OK, "approved": False, "whitelist_size": 1, "quantity": 0}
        )
        == {}
    )


def test_the_whitelist_holds_ten_in_all_and_drops_blanks_and_repeats():
    ids, names, errors = rules.whitelist_clean(
        "o_a\n\n o_b \no_a\n", ["eddy", "", "eddy", "afdvvf"]
    )
    assert (ids, names, errors) == (["o_a", "o_b"], ["eddy", "afdvvf"], {})
    ten = [f"o_{i}" for i in range(10)]
    assert rules.whitelist_clean(ten, [])[2] == {}
    assert rules.whitelist_clean(ten[:5], [f"u{i}" for i in range(5)])[2] == {}


def test_eleven_on_the_whitelist_is_an_error():
    _, _, errors = rules.whitelist_clean([f"o_{i}" for i in range(11)], [])
    assert set(errors) == {"openids"} and "11" in errors["openids"]
    _, _, errors = rules.whitelist_clean(
        [f"o_{i}" for i in range(5)], [f"u{i}" for i in range(6)]
    )
    assert set(errors) == {"usernames"}


def test_whitelist_entries_that_cannot_be_ids_are_errors_on_their_field():
    _, _, errors = rules.whitelist_clean(["o a", "o<script>"], ["x" * 33])
    assert set(errors) == {"openids", "usernames"}
    # spaces, commas and Chinese punctuation separate entries
    ids, _, errors = rules.whitelist_clean("o_a, o_b；o_c", "")
    assert ids == ["o_a", "o_b", "o_c"] and errors == {}


def test_a_card_is_received_from_five_days_before_it_begins():
    begin = datetime(2026, 12, 11, 16, 0, tzinfo=UTC)  # 2026-12-12 00:00 in Shanghai
    now = datetime(2026, 11, 1, tzinfo=UTC)
    assert rules.receivable_from(begin, now) == datetime(2026, 12, 6, 16, tzinfo=UTC)
    assert rules.receivable_from(begin, begin - timedelta(days=5)) is None
    assert rules.receivable_from(begin, begin - timedelta(days=5, seconds=1))
    assert rules.receivable_from(None, now) is None


def test_consumption_rate_in_percent():
    assert rules.consumption_rate(0, 0) is None
    assert rules.consumption_rate(3, 1) == Decimal("33.3")
    assert rules.consumption_rate(3, 2) == Decimal("66.7")
    assert rules.consumption_rate(4, 4) == Decimal("100.0")


def test_a_receive_belongs_to_the_channel_its_outer_id_or_outer_str_names():
    by_id, by_str = {12: "window"}, {"ch-12": "window", "ch-13": "table"}
    of = lambda i, s: rules.channel_of(i, s, by_outer_id=by_id, by_outer_str=by_str)  # noqa: E731
    assert of(12, "ch-12") == "window"  # a QR code: both
    assert of(0, "ch-13") == "table"  # an H5 page: outer_str only
    assert of(None, "") == rules.NO_CHANNEL
    assert of(0, "") == rules.NO_CHANNEL
    assert of(99, "") == rules.OTHER_CHANNEL
    assert of(0, "consume_share") == rules.OTHER_CHANNEL


def test_a_channels_outer_str_fits_wechat():
    assert rules.outer_str_for(rules.MAX_OUTER_ID) == "ch-2147483647"
    assert len(rules.outer_str_for(rules.MAX_OUTER_ID)) <= rules.MAX_OUTER_STR
