"""Tests of wechat.signatures: URL check (SPEC §10), cardExt/cardSign (SPEC §6), JS-SDK."""

from __future__ import annotations

import hashlib
import string
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wechat.signatures import (
    card_ext_signature,
    check_server_signature,
    choose_card_signature,
    constant_time_equals,
    jsapi_config,
    jsapi_signature,
    new_nonce,
    server_signature,
    sha1_of_sorted,
)


def _sha1(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()  # noqa: S324 (WeChat's protocol)


# -- sha1_of_sorted ---------------------------------------------------------------


def test_sha1_of_sorted_sorts_then_concatenates():
    assert sha1_of_sorted("b", "c", "a") == _sha1("abc")
    # Code-point order: digits < upper case < lower case.
    assert sha1_of_sorted("x", "B", "1") == _sha1("1Bx")


def test_sha1_of_sorted_treats_values_as_strings():
    # "10" < "9" as strings; a numeric sort would give "910".
    assert sha1_of_sorted("9", "10") == _sha1("109")
    assert sha1_of_sorted(9, 10) == sha1_of_sorted("9", "10")  # type: ignore[arg-type]


@given(st.lists(st.text(), max_size=6), st.randoms())
def test_sha1_of_sorted_ignores_argument_order(values, rnd):
    shuffled = list(values)
    rnd.shuffle(shuffled)
    assert sha1_of_sorted(*values) == sha1_of_sorted(*shuffled)


# -- URL check (SPEC §10) -----------------------------------------------------------

# Token "spamtest", timestamp "1409735669", nonce "1320562132" are the parameters of
# Tencent's WXBizMsgCrypt sample; this URL-check signature for them is asserted by
# ilyydy/cf-openai, src/platform/wechat/wechat.test.ts (its GET handler echoes
# echostr for signature=16120ec1b8dbb870f510d87ce6bc2463eae6ca1a).
SAMPLE_TOKEN = "spamtest"
SAMPLE_TIMESTAMP = "1409735669"
SAMPLE_NONCE = "1320562132"
SAMPLE_URL_SIGNATURE = "16120ec1b8dbb870f510d87ce6bc2463eae6ca1a"


def test_server_signature_matches_published_vector():
    assert (
        server_signature(SAMPLE_TOKEN, SAMPLE_TIMESTAMP, SAMPLE_NONCE)
        == SAMPLE_URL_SIGNATURE
    )


def test_check_server_signature_accepts_the_right_signature():
    assert check_server_signature(
        SAMPLE_TOKEN, SAMPLE_TIMESTAMP, SAMPLE_NONCE, SAMPLE_URL_SIGNATURE
    )


@pytest.mark.parametrize(
    ("token", "timestamp", "nonce", "signature"),
    [
        ("other-token", SAMPLE_TIMESTAMP, SAMPLE_NONCE, SAMPLE_URL_SIGNATURE),
        (SAMPLE_TOKEN, "1409735670", SAMPLE_NONCE, SAMPLE_URL_SIGNATURE),
        (SAMPLE_TOKEN, SAMPLE_TIMESTAMP, "1320562133", SAMPLE_URL_SIGNATURE),
        (SAMPLE_TOKEN, SAMPLE_TIMESTAMP, SAMPLE_NONCE, "0" * 40),
        (SAMPLE_TOKEN, SAMPLE_TIMESTAMP, SAMPLE_NONCE, SAMPLE_URL_SIGNATURE.upper()),
        (SAMPLE_TOKEN, SAMPLE_TIMESTAMP, SAMPLE_NONCE, SAMPLE_URL_SIGNATURE[:-1]),
        (SAMPLE_TOKEN, SAMPLE_TIMESTAMP, SAMPLE_NONCE, "签名"),
        (SAMPLE_TOKEN, SAMPLE_TIMESTAMP, SAMPLE_NONCE, ""),
        (SAMPLE_TOKEN, SAMPLE_TIMESTAMP, SAMPLE_NONCE, None),
        (SAMPLE_TOKEN, None, SAMPLE_NONCE, SAMPLE_URL_SIGNATURE),
        (SAMPLE_TOKEN, SAMPLE_TIMESTAMP, "", SAMPLE_URL_SIGNATURE),
    ],
)
def test_check_server_signature_rejects_anything_else(
    token, timestamp, nonce, signature
):
    assert check_server_signature(token, timestamp, nonce, signature) is False


def test_check_server_signature_needs_a_token():
    # sha1 of sorted("", timestamp, nonce) must not pass for an unconfigured token.
    forged = server_signature("", SAMPLE_TIMESTAMP, SAMPLE_NONCE)
    assert check_server_signature("", SAMPLE_TIMESTAMP, SAMPLE_NONCE, forged) is False


# -- cardExt (SPEC §6) ------------------------------------------------------------

# SPEC §6 (quoting seeds/002_d9338f5b8bbc6e25.txt, the card API guide).
CARD_EXT_VECTOR = {
    "code": "1434008071",
    "timestamp": "1404896688",
    "card_id": "pjZ8Yt1XGILfi-FUsewpnnolGgZk",
    "api_ticket": "ojZ8YtyVyr30HheH3CM73y7h4jJE",
    "nonce_str": "123",
}
CARD_EXT_SIGNATURE = "f137ab68b7f8112d20ee528ab6074564e2796250"


def test_card_ext_signature_matches_spec_vector():
    assert card_ext_signature(**CARD_EXT_VECTOR) == CARD_EXT_SIGNATURE


def test_card_ext_signature_is_sha1_of_the_seeds_concatenation():
    # The seed also spells out the sorted concatenation it hashes.
    concatenated = (
        "123"
        "1404896688"
        "1434008071"
        "ojZ8YtyVyr30HheH3CM73y7h4jJE"
        "pjZ8Yt1XGILfi-FUsewpnnolGgZk"
    )
    assert _sha1(concatenated) == CARD_EXT_SIGNATURE


def test_card_ext_signature_leaves_out_empty_values():
    assert card_ext_signature(**CARD_EXT_VECTOR, openid="") == CARD_EXT_SIGNATURE
    assert card_ext_signature(**CARD_EXT_VECTOR, openid=None) == CARD_EXT_SIGNATURE  # type: ignore[arg-type]


def test_card_ext_signature_includes_openid_when_given():
    with_openid = card_ext_signature(**CARD_EXT_VECTOR, openid="oUser")
    assert with_openid != CARD_EXT_SIGNATURE
    assert with_openid == sha1_of_sorted(*CARD_EXT_VECTOR.values(), "oUser")


def test_card_ext_signature_accepts_an_int_timestamp():
    vector = dict(CARD_EXT_VECTOR, timestamp=1404896688)
    assert card_ext_signature(**vector) == CARD_EXT_SIGNATURE


def test_card_ext_signature_without_code_or_nonce():
    assert card_ext_signature(
        api_ticket="ticket", timestamp="1404896688", card_id="pCard"
    ) == _sha1("1404896688pCardticket")


# -- chooseCard cardSign (SPEC §6) ------------------------------------------------


def test_choose_card_signature_sorts_values_not_keys():
    signature = choose_card_signature(
        api_ticket="ticket",
        appid="wx123",
        timestamp="1404896688",
        nonce_str="abc",
        card_id="pCard",
        card_type="GROUPON",
    )
    # By value, in code-point order; location_id is empty and left out.
    assert signature == _sha1("1404896688GROUPONabcpCardticketwx123")


def test_choose_card_signature_includes_location_when_given():
    signature = choose_card_signature(
        api_ticket="ticket",
        appid="wx123",
        timestamp=1404896688,
        nonce_str="abc",
        location_id=290000,
    )
    assert signature == _sha1("1404896688290000abcticketwx123")


# -- JS-SDK wx.config ---------------------------------------------------------------

# WeChat's JS-SDK documentation, 附录1 "JS-SDK使用权限签名算法": its worked example,
# asserted verbatim by e.g. kinisky564477/wechat, wx/utils_test.go
# (TestJsTicketSignature) and heaweavy/common-components,
# sdk/wechat-sdk/src/test/java/.../wechat/api/js/SignatureTest.java.
JSAPI_TICKET = "sM4AOVdWfPE4DxkXGEs8VMCPGGVi4C3VM0P37wVUCFvkVAy_90u5h9nbSlYy3-Sl-HhTdfl2fzFy1AOcHKP7qg"
JSAPI_NONCE = "Wm3WZYTPz0wzccnW"
JSAPI_TIMESTAMP = 1414587457
JSAPI_URL = "http://mp.weixin.qq.com?params=value"
JSAPI_SIGNATURE = "0f9de62fce790f9a083d5c99e95740ceb90c27ed"


def test_jsapi_signature_matches_documented_vector():
    assert (
        jsapi_signature(
            jsapi_ticket=JSAPI_TICKET,
            noncestr=JSAPI_NONCE,
            timestamp=JSAPI_TIMESTAMP,
            url=JSAPI_URL,
        )
        == JSAPI_SIGNATURE
    )
    assert (
        jsapi_signature(
            jsapi_ticket=JSAPI_TICKET,
            noncestr=JSAPI_NONCE,
            timestamp=str(JSAPI_TIMESTAMP),
            url=JSAPI_URL,
        )
        == JSAPI_SIGNATURE
    )


def test_jsapi_signature_drops_the_fragment():
    assert (
        jsapi_signature(
            jsapi_ticket=JSAPI_TICKET,
            noncestr=JSAPI_NONCE,
            timestamp=JSAPI_TIMESTAMP,
            url=JSAPI_URL + "#/card/42?x=1",
        )
        == JSAPI_SIGNATURE
    )


def test_jsapi_signature_depends_on_the_url():
    assert (
        jsapi_signature(
            jsapi_ticket=JSAPI_TICKET,
            noncestr=JSAPI_NONCE,
            timestamp=JSAPI_TIMESTAMP,
            url=JSAPI_URL + "&other=1",
        )
        != JSAPI_SIGNATURE
    )


def test_jsapi_config_with_fixed_values_matches_vector():
    config = jsapi_config(
        appid="wx2c2769f8efd9abc2",
        jsapi_ticket=JSAPI_TICKET,
        url=JSAPI_URL,
        timestamp=JSAPI_TIMESTAMP,
        noncestr=JSAPI_NONCE,
    )
    assert config == {
        "appId": "wx2c2769f8efd9abc2",
        "timestamp": JSAPI_TIMESTAMP,
        "nonceStr": JSAPI_NONCE,
        "signature": JSAPI_SIGNATURE,
    }


def test_jsapi_config_defaults_sign_what_they_return():
    before = int(time.time())
    config = jsapi_config(appid="wxapp", jsapi_ticket=JSAPI_TICKET, url=JSAPI_URL)
    after = int(time.time())
    assert set(config) == {"appId", "timestamp", "nonceStr", "signature"}
    assert isinstance(config["timestamp"], int)
    assert before <= config["timestamp"] <= after
    assert len(config["nonceStr"]) == 16
    assert config["signature"] == jsapi_signature(
        jsapi_ticket=JSAPI_TICKET,
        noncestr=config["nonceStr"],
        timestamp=config["timestamp"],
        url=JSAPI_URL,
    )
    assert JSAPI_TICKET not in config.values()
    other = jsapi_config(appid="wxapp", jsapi_ticket=JSAPI_TICKET, url=JSAPI_URL)
    assert other["nonceStr"] != config["nonceStr"]


# -- helpers --------------------------------------------------------------------------


def test_constant_time_equals():
    assert constant_time_equals("abc", "abc")
    assert not constant_time_equals("abc", "abd")
    assert not constant_time_equals("abc", "ab")
    assert constant_time_equals("签名", "签名")
    assert not constant_time_equals("签名", "签")
    assert not constant_time_equals("abc", None)  # type: ignore[arg-type]


def test_new_nonce_is_random_alphanumeric():
    nonce = new_nonce()
    assert len(nonce) == 16
    assert set(nonce) <= set(string.ascii_letters + string.digits)
    assert len(new_nonce(32)) == 32
    assert len({new_nonce() for _ in range(50)}) == 50


def test_new_nonce_needs_a_positive_length():
    with pytest.raises(ValueError):
        new_nonce(0)
