"""The test whitelist (card/testwhitelist/set, SPEC §6) against the live sandbox:
the portal sends the whole list, at most 10 in all; bad input changes nothing."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from distribution import services
from distribution.models import DistributionEvent, Whitelist

K = DistributionEvent.Kind
PATH = "card/testwhitelist/set"


def at_wechat(sandbox, appid: str) -> dict:
    return sandbox.control("GET", "whitelist", params={"appid": appid})


def test_the_whole_list_is_sent_and_replaces_wechats(live_demo, sandbox):
    bistro = live_demo["Demo Bistro"]
    services.whitelist_set(merchant=bistro, openids="o_anna\no_ben\n", usernames="eddy")
    wechat = at_wechat(sandbox, bistro.appid)
    assert (wechat["openid"], wechat["username"]) == (["o_anna", "o_ben"], ["eddy"])
    services.whitelist_set(merchant=bistro, openids=["o_cleo"], usernames=[])
    wechat = at_wechat(sandbox, bistro.appid)
    assert (wechat["openid"], wechat["username"]) == (["o_cleo"], [])
    local = Whitelist.objects.get(merchant=bistro)
    assert (local.openids, local.usernames, local.in_doubt) == (["o_cleo"], [], False)
    last = DistributionEvent.objects.filter(merchant=bistro).first()
    assert last.kind == K.WHITELIST_SET
    assert last.details["before"] == {
        "openids": ["o_anna", "o_ben"],
        "usernames": ["eddy"],
    }
    # emptied
    services.whitelist_set(merchant=bistro, openids="", usernames="")
    assert at_wechat(sandbox, bistro.appid)["openid"] == []


def test_eleven_entries_are_refused_and_nothing_changes(live_demo, sandbox):
    bistro = live_demo["Demo Bistro"]
    services.whitelist_set(merchant=bistro, openids=["o_keep"], usernames=[])
    calls = sandbox.calls(PATH)
    with pytest.raises(ValidationError) as refused:
        services.whitelist_set(
            merchant=bistro,
            openids=[f"o_{i}" for i in range(6)],
            usernames=[f"user{i}" for i in range(5)],
        )
    assert set(refused.value.message_dict) == {"openids"}
    assert "11" in refused.value.message_dict["openids"][0]
    with pytest.raises(ValidationError) as bad:
        services.whitelist_set(merchant=bistro, openids=["not an id"], usernames=[])
    assert set(bad.value.message_dict) == {"openids"}
    assert sandbox.calls(PATH) == calls
    assert at_wechat(sandbox, bistro.appid)["openid"] == ["o_keep"]
    assert Whitelist.objects.get(merchant=bistro).openids == ["o_keep"]


def test_a_lost_answer_leaves_the_list_in_doubt_until_saved_again(live_demo, sandbox):
    bistro = live_demo["Demo Bistro"]
    services.whitelist_set(merchant=bistro, openids=["o_old"], usernames=[])
    sandbox.fault("http_500_after", path=PATH, remaining=3)
    with pytest.raises(ValidationError) as lost:
        services.whitelist_set(merchant=bistro, openids=["o_new"], usernames=[])
    assert "Save again" in lost.value.messages[0]
    local = Whitelist.objects.get(merchant=bistro)
    assert (local.openids, local.in_doubt) == (["o_old"], True)
    assert at_wechat(sandbox, bistro.appid)["openid"] == ["o_new"]  # it did land
    services.whitelist_set(merchant=bistro, openids=["o_new"], usernames=[])
    local.refresh_from_db()
    assert (local.openids, local.in_doubt) == (["o_new"], False)
    assert list(
        DistributionEvent.objects.filter(merchant=bistro)
        .order_by("pk")
        .values_list("kind", flat=True)
    ) == [K.WHITELIST_SET, K.WHITELIST_LOST, K.WHITELIST_SET]


def test_one_replacement_at_a_time(live_demo, sandbox):
    from django.core.cache import cache

    bistro = live_demo["Demo Bistro"]
    cache.add(f"distribution:whitelist:{bistro.pk}", 1, 30)  # another one on its way
    with pytest.raises(ValidationError):
        services.whitelist_set(merchant=bistro, openids=["o_x"], usernames=[])
    assert sandbox.calls(PATH) == 0
