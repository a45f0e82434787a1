/*
 * The WeChat sandbox's stand-in for WeChat's JS-SDK (jweixin-1.6.0.js), SPEC §6.
 *
 * Load it with <script src="<sandbox>/sandbox/jssdk/jweixin.js"></script> where the
 * page would load res.wx.qq.com/open/js/jweixin-1.6.0.js. It defines window.wx
 * (and window.jWeixin) with config, ready, error, checkJsApi, addCard and
 * consumeAndShareCard, and asks the sandbox (cross-origin, no cookies) to check
 * signatures and to do what WeChat's client does: wx.config's jsapi signature of
 * this page's URL, each cardExt's signature, the receive, the gift after a consume.
 * Plain JavaScript, no dependencies, nothing inline: styles are set through the
 * DOM, so a strict Content-Security-Policy on the page is fine.
 * wx.sandbox is true: a page can tell it is not in WeChat's own client.
 */
(function () {
  "use strict";

  var script = document.currentScript;
  var BASE = script && script.src
    ? script.src.replace(/jssdk\/jweixin\.js(\?.*)?$/, "jssdk/")
    : "/sandbox/jssdk/";
  var KNOWN_APIS = ["addCard", "consumeAndShareCard", "checkJsApi"];

  var state = {
    status: "idle", // idle → pending → ok | failed
    session: "",
    apis: [],
    error: null,
    debug: false,
    readyQueue: [],
    errorQueue: [],
    waiting: []
  };

  function post(path, body) {
    return fetch(BASE + path, {
      method: "POST",
      mode: "cors",
      credentials: "omit",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body)
    }).then(function (response) { return response.json(); });
  }

  function log(what, res) {
    if (state.debug && window.console) window.console.log("wx." + what, res);
  }

  function finish(options, kind, res, name) {
    log(name, res);
    if (options && typeof options[kind] === "function") options[kind](res);
    if (options && typeof options.complete === "function") options.complete(res);
  }

  // Run fn once wx.config has an outcome (as WeChat: APIs wait for it).
  function afterConfig(name, options, fn) {
    var go = function () {
      if (state.status === "ok" && state.apis.indexOf(name) >= 0) return fn();
      finish(options, "fail", { errMsg: name + ":permission denied" }, name);
    };
    if (state.status === "idle") {
      finish(options, "fail", { errMsg: name + ":the permission value is offline verifying" }, name);
    } else if (state.status === "pending") {
      state.waiting.push(go);
    } else {
      go();
    }
  }

  function settleConfig(ok, res) {
    state.status = ok ? "ok" : "failed";
    if (!ok) state.error = res;
    log("config", res);
    var queue = ok ? state.readyQueue : state.errorQueue;
    state.readyQueue = [];
    state.errorQueue = [];
    queue.forEach(function (fn) { fn(ok ? undefined : res); });
    var waiting = state.waiting;
    state.waiting = [];
    waiting.forEach(function (fn) { fn(); });
  }

  // --- the overlay: WeChat's own screens, drawn over the page ------------------
  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) { node.setAttribute(key, attrs[key]); });
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function styled(node, styles) {
    Object.keys(styles).forEach(function (key) { node.style[key] = styles[key]; });
    return node;
  }

  function overlay(title) {
    var shade = styled(el("div", { "data-wx-sandbox": "overlay", role: "dialog", "aria-modal": "true" }), {
      position: "fixed", left: "0", top: "0", right: "0", bottom: "0", zIndex: "2147483647",
      background: "rgba(0,0,0,.5)", display: "flex", alignItems: "flex-end", justifyContent: "center",
      fontFamily: "-apple-system, 'PingFang SC', 'Microsoft YaHei', sans-serif"
    });
    var sheet = styled(el("div"), {
      background: "#fff", color: "#1f2329", width: "100%", maxWidth: "420px",
      borderRadius: "12px 12px 0 0", padding: "16px 18px 20px", boxSizing: "border-box"
    });
    sheet.appendChild(styled(el("div", { "data-wx-sandbox": "title" }, title), {
      fontWeight: "600", fontSize: "17px", marginBottom: "10px"
    }));
    shade.appendChild(sheet);
    document.body.appendChild(shade);
    return { shade: shade, sheet: sheet, close: function () { shade.remove(); } };
  }

  function button(label, role, primary) {
    return styled(el("button", { type: "button", "data-wx-sandbox": role }, label), {
      flex: "1", padding: "10px", borderRadius: "6px", fontSize: "16px", cursor: "pointer",
      border: primary ? "1px solid #07c160" : "1px solid #dee0e3",
      background: primary ? "#07c160" : "#fff", color: primary ? "#fff" : "#1f2329"
    });
  }

  function row(parent) {
    return parent.appendChild(styled(el("div"), { display: "flex", gap: "10px", marginTop: "14px" }));
  }

  function cardLine(parent, card) {
    var line = styled(el("div", { "data-wx-sandbox": "card", "data-card-id": card.cardId }), {
      padding: "8px 10px", border: "1px solid #dee0e3", borderRadius: "8px", marginBottom: "6px"
    });
    line.appendChild(styled(el("div", {}, card.brand || ""), { color: "#646a73", fontSize: "13px" }));
    line.appendChild(el("strong", {}, card.title || card.cardId));
    parent.appendChild(line);
    return line;
  }

  // --- wx -----------------------------------------------------------------------
  var wx = {
    sandbox: true,

    config: function (options) {
      options = options || {};
      state.status = "pending";
      state.debug = !!options.debug;
      post("config", {
        appId: options.appId,
        timestamp: options.timestamp,
        nonceStr: options.nonceStr,
        signature: options.signature,
        jsApiList: options.jsApiList || [],
        url: window.location.href.split("#")[0]
      }).then(function (res) {
        if (res.errMsg === "config:ok") {
          state.session = res.session;
          state.apis = (options.jsApiList || []).slice();
          settleConfig(true, { errMsg: res.errMsg });
        } else {
          settleConfig(false, { errMsg: res.errMsg });
        }
      }, function () {
        settleConfig(false, { errMsg: "config:fail network error" });
      });
    },

    ready: function (fn) {
      if (typeof fn !== "function") return;
      if (state.status === "ok") fn();
      else state.readyQueue.push(fn);
    },

    error: function (fn) {
      if (typeof fn !== "function") return;
      if (state.status === "failed") fn(state.error);
      else state.errorQueue.push(fn);
    },

    checkJsApi: function (options) {
      options = options || {};
      var result = {};
      (options.jsApiList || []).forEach(function (name) { result[name] = KNOWN_APIS.indexOf(name) >= 0; });
      finish(options, "success", { errMsg: "checkJsApi:ok", checkResult: result }, "checkJsApi");
    },

    addCard: function (options) {
      options = options || {};
      afterConfig("addCard", options, function () {
        var cardList = options.cardList || [];
        post("addcard", { session: state.session, cardList: cardList }).then(function (check) {
          if (check.errMsg !== "addCard:ok") return finish(options, "fail", { errMsg: check.errMsg }, "addCard");
          askOpenid(options, cardList, check);
        }, function () {
          finish(options, "fail", { errMsg: "addCard:fail network error" }, "addCard");
        });
      });
    },

    consumeAndShareCard: function (options) {
      options = options || {};
      afterConfig("consumeAndShareCard", options, function () {
        post("consume-share", { session: state.session, cardId: options.cardId, code: options.code }).then(function (res) {
          if (res.errMsg !== "consumeAndShareCard:ok") {
            return finish(options, "fail", { errMsg: res.errMsg }, "consumeAndShareCard");
          }
          showGift(options, res);
        }, function () {
          finish(options, "fail", { errMsg: "consumeAndShareCard:fail network error" }, "consumeAndShareCard");
        });
      });
    }
  };

  function askOpenid(options, cardList, check) {
    var labels = check.labels || {};
    var box = overlay(labels.add_title || "Add to your card wallet");
    (check.cards || []).forEach(function (card) { cardLine(box.sheet, card); });
    var fixed = (check.cards || []).map(function (c) { return c.openid; }).filter(Boolean)[0] || "";
    var label = styled(el("label", {}, labels.openid || "openid"), { display: "block", marginTop: "10px", fontWeight: "600" });
    var input = styled(el("input", { type: "text", "data-wx-sandbox": "openid", list: "wx-sandbox-users", autocomplete: "off" }), {
      display: "block", width: "100%", padding: "8px", boxSizing: "border-box", fontSize: "16px",
      border: "1px solid #dee0e3", borderRadius: "6px", marginTop: "4px"
    });
    input.value = fixed;
    if (fixed) input.readOnly = true;
    var users = el("datalist", { id: "wx-sandbox-users" });
    (check.users || []).forEach(function (openid) { users.appendChild(el("option", { value: openid })); });
    label.appendChild(input);
    box.sheet.appendChild(label);
    box.sheet.appendChild(users);
    var message = styled(el("p", { "data-wx-sandbox": "message", role: "status" }), { color: "#d83931", minHeight: "1em" });
    box.sheet.appendChild(message);
    var buttons = row(box.sheet);
    var cancel = button(labels.cancel || "Cancel", "cancel", false);
    var add = button(labels.add || "Add", "confirm", true);
    buttons.appendChild(cancel);
    buttons.appendChild(add);
    input.focus();

    cancel.addEventListener("click", function () {
      box.close();
      finish(options, "cancel", { errMsg: "addCard:cancel" }, "addCard");
    });
    add.addEventListener("click", function () {
      var openid = input.value.trim();
      if (!openid) { input.focus(); return; }
      add.disabled = true;
      post("addcard", { session: state.session, cardList: cardList, openid: openid }).then(function (res) {
        if (res.errMsg !== "addCard:ok") {
          box.close();
          return finish(options, "fail", { errMsg: res.errMsg }, "addCard");
        }
        var result = { errMsg: "addCard:ok", cardList: res.cardList };
        var refused = (res.details || []).filter(function (d) { return d.errcode; });
        if (!refused.length) {
          box.close();
          return finish(options, "success", result, "addCard");
        }
        message.textContent = (labels.refused || "Not added") + ": " +
          refused.map(function (d) { return d.errcode + " " + d.errmsg; }).join("; ");
        buttons.textContent = "";
        var ok = button(labels.ok || "OK", "ok", true);
        buttons.appendChild(ok);
        ok.addEventListener("click", function () {
          box.close();
          finish(options, "success", result, "addCard");
        });
      }, function () {
        box.close();
        finish(options, "fail", { errMsg: "addCard:fail network error" }, "addCard");
      });
    });
  }

  function showGift(options, res) {
    var labels = res.labels || {};
    var box = overlay(labels.gift_title || "A gift after using your coupon");
    if ((res.gifts || []).length) {
      res.gifts.forEach(function (gift) { cardLine(box.sheet, gift).setAttribute("data-wx-sandbox", "gift"); });
    } else {
      box.sheet.appendChild(el("p", { "data-wx-sandbox": "no-gift" }, labels.no_gift || "No gift this time."));
    }
    var buttons = row(box.sheet);
    var cancel = button(labels.cancel || "Cancel", "cancel", false);
    var ok = button(labels.ok || "OK", "ok", true);
    buttons.appendChild(cancel);
    buttons.appendChild(ok);
    cancel.addEventListener("click", function () {
      box.close();
      finish(options, "cancel", { errMsg: "consumeAndShareCard:cancel" }, "consumeAndShareCard");
    });
    ok.addEventListener("click", function () {
      box.close();
      finish(options, "success", { errMsg: "consumeAndShareCard:ok" }, "consumeAndShareCard");
    });
  }

  window.wx = window.jWeixin = wx;
})();
