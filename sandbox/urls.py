"""Below /sandbox/: WeChat's own paths (cgi-bin/…, card/…), the control API and
the console."""

from django.urls import path
from django.views.generic import RedirectView

from .views import (
    basic,
    cards,
    codes,
    coins,
    component,
    console,
    console_users,
    control,
    control_codes,
    jssdk,
    qrcodes,
)

app_name = "sandbox"


def component_urls():
    """WeChat's open platform: cgi-bin/component/…, the authorization page (on
    mp.weixin.qq.com: here below /sandbox/mp/), its control API and console."""
    c = component
    api = (
        "api_component_token",
        "api_create_preauthcode",
        "api_query_auth",
        "api_authorizer_token",
        "api_get_authorizer_info",
        "api_get_authorizer_list",
    )
    return [
        *(path(f"cgi-bin/component/{name}", getattr(c, name)) for name in api),
        path("mp/cgi-bin/componentloginpage", c.loginpage, name="componentloginpage"),
        path("control/components", c.components, name="control_components"),
        path("control/components/<str:component_appid>", c.component_detail),
        path(
            "control/components/<str:component_appid>/push-ticket",
            c.component_push_ticket,
        ),
        path(
            "control/components/<str:component_appid>/authorize",
            c.component_authorize,
        ),
        path("control/components/<str:component_appid>/revoke", c.component_revoke),
        path(
            "console/components/<str:component_appid>/push-ticket",
            c.console_push_ticket,
            name="console_component_push_ticket",
        ),
        path(
            "console/components/<str:component_appid>/revoke",
            c.console_revoke,
            name="console_component_revoke",
        ),
    ]


urlpatterns = [
    path("", RedirectView.as_view(pattern_name="sandbox:console"), name="index"),
    # WeChat's API (SPEC §4, §12)
    path("cgi-bin/token", basic.token),
    path("cgi-bin/ticket/getticket", basic.getticket),
    path("cgi-bin/media/uploadimg", basic.uploadimg),
    path("media/<str:key>.<str:ext>", basic.media, name="media"),
    # friend coupons (SPEC §3)
    path("card/create", cards.create),
    path("card/get", cards.get),
    path("card/update", cards.update),
    path("card/delete", cards.delete),
    path("card/batchget", cards.batchget),
    # codes (SPEC §7)
    path("card/code/get", codes.get),
    path("card/code/decrypt", codes.decrypt),
    path("card/code/mark", codes.mark),
    path("card/code/consume", codes.consume),
    path("card/code/unavailable", codes.unavailable),
    # distribution (SPEC §6)
    path("card/qrcode/create", qrcodes.create),
    path("card/testwhitelist/set", qrcodes.testwhitelist_set),
    path("cgi-bin/showqrcode", qrcodes.showqrcode, name="showqrcode"),
    # what a QR code's url opens: the simulated phone (WeChat's weixin.qq.com/q/…)
    path("q/<str:slug>", qrcodes.phone, name="phone"),
    # the JS-SDK stand-in and what it asks the sandbox (cross-origin)
    path("jssdk/jweixin.js", jssdk.script, name="jssdk_script"),
    path("jssdk/config", jssdk.config, name="jssdk_config"),
    path("jssdk/addcard", jssdk.addcard, name="jssdk_addcard"),
    path("jssdk/consume-share", jssdk.consume_share, name="jssdk_consume_share"),
    # coins and stock (SPEC §5)
    path("card/pay/activate", coins.activate),
    path("card/pay/getpayprice", coins.getpayprice),
    path("card/pay/getcoinsinfo", coins.getcoinsinfo),
    path("card/pay/confirm", coins.confirm),
    path("card/pay/recharge", coins.recharge),
    path("card/pay/getorder", coins.getorder),
    path("card/pay/getorderlist", coins.getorderlist),
    # WeChat Pay's page behind a recharge's QR (weixin://wxpay/bizpayurl?pr=…)
    path("pay", coins.pay_page, name="pay"),
    path("pay/settle", coins.pay_settle, name="pay_settle"),
    # the open platform (SPEC §8): component APIs and the authorization page
    *component_urls(),
    # control API (README)
    path("control/accounts", control.accounts, name="control_accounts"),
    path("control/reset", control.reset, name="control_reset"),
    path("control/clock", control.clock_view, name="control_clock"),
    path("control/faults", control.faults, name="control_faults"),
    path("control/events", control.events, name="control_events"),
    path("control/calls", control.calls, name="control_calls"),
    path("control/cards", control.cards_list, name="control_cards"),
    path(
        "control/cards/<str:card_id>/review",
        control.card_review,
        name="control_card_review",
    ),
    path(
        "control/cards/<str:card_id>/receive",
        control_codes.card_receive,
        name="control_card_receive",
    ),
    path("control/codes", control_codes.codes_list, name="control_codes"),
    path(
        "control/codes/<str:code>/consume",
        control_codes.code_consume,
        name="control_code_consume",
    ),
    path(
        "control/codes/<str:code>/status",
        control_codes.code_status,
        name="control_code_status",
    ),
    path("control/users", control_codes.users_view, name="control_users"),
    path(
        "control/users/<str:openid>/coupon-link",
        control_codes.coupon_link,
        name="control_coupon_link",
    ),
    path("control/whitelist", control_codes.whitelist_view, name="control_whitelist"),
    path("control/qrcodes", control_codes.qrcodes_list, name="control_qrcodes"),
    path(
        "control/qrcodes/<path:ticket>/scan",
        control_codes.qrcode_scan,
        name="control_qrcode_scan",
    ),
    path("control/coins", control.coins_view, name="control_coins"),
    path(
        "control/recharges/pay-all",
        control.recharges_pay_all,
        name="control_recharges_pay_all",
    ),
    path(
        "control/recharges/<str:order_id>/pay",
        control.recharge_pay,
        name="control_recharge_pay",
    ),
    # console
    path("console/", console.console, name="console"),
    path("console/clock", console.console_clock, name="console_clock"),
    path("console/user", console_users.console_user, name="console_user"),
    path(
        "console/user/receive",
        console_users.console_user_receive,
        name="console_user_receive",
    ),
    path(
        "console/user/delete",
        console_users.console_user_delete,
        name="console_user_delete",
    ),
    path("console/faults/add", console.console_fault_add, name="console_fault_add"),
    path(
        "console/faults/clear", console.console_fault_clear, name="console_fault_clear"
    ),
    path("console/events", console.console_event, name="console_event"),
    path("console/account", console.console_account, name="console_account"),
    path("console/reset", console.console_reset, name="console_reset"),
    path(
        "console/cards/<str:card_id>/review",
        console.console_card_review,
        name="console_card_review",
    ),
    path(
        "console/recharges/<str:order_id>/pay",
        console.console_recharge_pay,
        name="console_recharge_pay",
    ),
]
