"""What the sandbox's tests share: WeChat's side of a merchant as raw HTTP (the
account's API, its callback server), WeChat's own example card (the seed's), the
code helpers, and the fixtures of a code-issuing account (SPEC §3, §6, §7).

Expected answers in the tests come from SPEC and the seeds, never from the sandbox's
own code.
"""

from __future__ import annotations

import io
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import pytest
import requests

from wechat import xmlutil

SECRET = "sandbox-cards-secret-0123456789"
DAY = 86400
OK = {"errcode": 0, "errmsg": "ok"}
# The account the code, distribution and JS-SDK tests issue codes from.
APPID = "wx000000005a0dc0de"
OTHER_APPID = "wx000000005a0dc0df"


class WeChatHostSession(requests.Session):
    """Routes https://api.weixin.qq.com/… to the sandbox; the SDK is unchanged."""

    def __init__(self, sandbox_base: str):
        super().__init__()
        self.sandbox_base = sandbox_base

    def request(self, method, url, *args, **kwargs):
        url = url.replace("https://api.weixin.qq.com/", self.sandbox_base)
        return super().request(method, url, *args, **kwargs)


class Callback:
    """The merchant's server: records every push and answers ``success``."""

    def __init__(self):
        received = self.received = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                received.append(
                    {
                        "query": parse_qs(urlparse(self.path).query),
                        "body": body.decode("utf-8"),
                    }
                )
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"success")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/wechat/events/"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class Api:
    """WeChat's API of one account, as raw HTTP."""

    def __init__(self, sandbox, appid: str):
        self.sandbox = sandbox
        self.appid = appid
        self.token = requests.get(
            sandbox.base_url + "cgi-bin/token",
            params={
                "grant_type": "client_credential",
                "appid": appid,
                "secret": SECRET,
            },
            timeout=5,
        ).json()["access_token"]

    def post(self, path: str, body) -> dict:
        return requests.post(
            self.sandbox.base_url + path,
            params={"access_token": self.token},
            json=body,
            timeout=10,
        ).json()

    def upload(self, color: str = "red") -> str:
        from PIL import Image

        buffer = io.BytesIO()
        Image.new("RGB", (8, 8), color).save(buffer, format="JPEG")
        data = requests.post(
            self.sandbox.base_url + "cgi-bin/media/uploadimg",
            params={"access_token": self.token},
            files={"buffer": ("logo.jpg", buffer.getvalue(), "image/jpeg")},
            timeout=5,
        ).json()
        return data["url"]

    def create(self, card: dict) -> str:
        data = self.post("card/create", {"card": card})
        assert data["errcode"] == 0, data
        return data["card_id"]

    def get(self, card_id: str) -> dict:
        data = self.post("card/get", {"card_id": card_id})
        assert data["errcode"] == 0, data
        return data["card"]


def base_of(card: dict) -> dict:
    return card[card["card_type"].lower()]["base_info"]


def cash_card(images: list[str], *, begin: int | None = None, days: int = 30) -> dict:
    """A valid CASH friend coupon shaped like WeChat's example (the seed's)."""
    begin = begin or int(time.time()) + 3600
    logo, cover, picture = images
    return {
        "card_type": "CASH",
        "cash": {
            "base_info": {
                "logo_url": logo,
                "brand_name": "微信餐厅",
                "code_type": "CODE_TYPE_TEXT",
                "color": "Color010",
                "notice": "请出示二维码核销卡券",
                "service_phone": "020-88888888",
                "description": "不可与其他优惠同享\n如需团购券发票,请在消费时向商户提出",
                "date_info": {
                    "type": "DATE_TYPE_FIX_TIME_RANGE",
                    "begin_timestamp": begin,
                    "end_timestamp": begin + days * DAY,
                },
                "can_share": False,
                "can_give_friend": False,
                "location_id_list": [272981040, 400183234],
                "get_limit": 3,
                "center_title": "快速核销",
                "center_sub_title": "",
                "center_url": "http://www.qq.com",
                "custom_url_name": "立即使用",
                "custom_url": "http://www.qq.com",
                "custom_url_sub_title": "6个汉字tips",
                "promotion_url_name": "更多优惠",
                "promotion_url": "http://www.qq.com",
            },
            "advanced_info": {
                "use_condition": {
                    "accept_category": "鞋类",
                    "reject_category": "阿迪达斯",
                    "least_cost": 50000,
                    "can_use_with_other_discount": True,
                },
                "abstract": {
                    "abstract": "微信餐厅推出多种新季菜品,期待您的光临",
                    "icon_url_list": [cover],
                },
                "text_image_list": [
                    {"image_url": picture, "text": "此菜品精选食材,以独特的烹饪方法"},
                ],
                "time_limit": [
                    {
                        "type": "MONDAY",
                        "begin_hour": 0,
                        "end_hour": 10,
                        "begin_minute": 10,
                        "end_minute": 59,
                    },
                    {"type": "HOLIDAY"},
                ],
                "business_service": ["BIZ_SERVICE_FREE_WIFI", "BIZ_SERVICE_DELIVER"],
                "consume_share_self_num": 1,
                "share_friends": True,
            },
            "reduce_cost": 5000,
        },
    }


def gift_card(images: list[str]) -> dict:
    cash = cash_card(images)["cash"]
    cash.pop("reduce_cost")
    cash["advanced_info"]["use_condition"] = {"object_use_for": "蛋糕"}
    return {
        "card_type": "GIFT",
        "gift": {**cash, "gift_name": "蛋挞", "gift_num": 1, "gift_unit": "个"},
    }


class CodeApi(Api):
    def get(self, path: str) -> dict:
        return requests.get(
            self.sandbox.base_url + path,
            params={"access_token": self.token},
            timeout=10,
        ).json()

    def stock(self, card_id: str, quantity: int) -> None:
        """Buy stock as a merchant does: quote, then confirm (SPEC §5)."""
        self.get("card/pay/activate")
        quote = self.post(
            "card/pay/getpayprice", {"card_id": card_id, "quantity": quantity}
        )
        assert quote["errcode"] == 0, quote
        body = {"card_id": card_id, "order_id": quote["order_id"], "quantity": quantity}
        assert self.post("card/pay/confirm", body) == OK

    def quantity(self, card_id: str) -> int:
        data = self.post("card/get", {"card_id": card_id})
        return data["card"][data["card"]["card_type"].lower()]["base_info"]["sku"][
            "quantity"
        ]

    def code(self, code: str, check_consume: bool | None = None, **extra) -> dict:
        body = {"code": code, **extra}
        if check_consume is not None:
            body["check_consume"] = check_consume
        return self.post("card/code/get", body)

    def mark(self, code: str, openid: str, is_mark: bool = True, **extra) -> dict:
        body = {"code": code, "openid": openid, "is_mark": is_mark, **extra}
        return self.post("card/code/mark", body)

    def consume(self, code: str, openid: str | None = None, **extra) -> dict:
        body = {"code": code, **extra}
        if openid is not None:
            body["openid"] = openid
        return self.post("card/code/consume", body)


def receive(sandbox, card_id: str, openid: str, **fields) -> dict:
    return sandbox.control(
        "POST", f"cards/{card_id}/receive", json={"openid": openid, **fields}
    )


def refused(sandbox, card_id: str, openid: str, **fields) -> requests.Response:
    response = requests.post(
        sandbox.base_url + f"control/cards/{card_id}/receive",
        json={"openid": openid, **fields},
        timeout=10,
    )
    assert response.status_code == 400, response.text
    return response


def pushes(event: str) -> list[dict]:
    from sandbox.models import Push

    rows = Push.objects.filter(event=event).order_by("created_at", "id")
    return [xmlutil.parse(row.xml) for row in rows]


def wait_for(predicate, timeout: float = 5.0):
    deadline = time.monotonic() + timeout
    while not (result := predicate()) and time.monotonic() < deadline:
        time.sleep(0.05)
    return result


def settled() -> bool:
    from sandbox.models import Push

    return wait_for(lambda: not Push.objects.filter(status="pending").exists())


@pytest.fixture
def callback():
    server = Callback()
    yield server
    settled()
    server.close()


@pytest.fixture
def api(sandbox, callback) -> CodeApi:
    sandbox.account(APPID, SECRET, callback_url=callback.url, auto_review_seconds=0)
    return CodeApi(sandbox, APPID)


@pytest.fixture
def images(api) -> list[str]:
    return [api.upload(color) for color in ("red", "green", "blue")]


@pytest.fixture
def new_card(sandbox, api, images):
    """``new_card(stock=10)`` → an approved card valid from a minute ago (30 days)."""

    def make(
        stock: int = 10,
        *,
        approve: bool = True,
        begin: int | None = None,
        days: int = 30,
        **base_fields,
    ) -> str:
        card = cash_card(images, begin=begin or int(time.time()) - 60, days=days)
        base = card["cash"]["base_info"]
        advanced = card["cash"]["advanced_info"]
        for key, value in base_fields.items():
            if key.startswith("consume_share"):
                advanced[key] = value
            else:
                base[key] = value
        card_id = api.create(card)
        if approve:
            sandbox.control("POST", f"cards/{card_id}/review", json={"approve": True})
            if stock:
                api.stock(card_id, stock)
        return card_id

    return make
