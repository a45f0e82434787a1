// The H5 campaign page (distribution/landing.html): wx.config with the signature the
// server made for this page's URL, then wx.addCard with each coupon's cardExt (signed
// on the server too). No inline script: the data is the page's JSON block.
(function () {
  "use strict";
  var block = document.getElementById("campaign-data");
  if (!block) return;
  var data = JSON.parse(block.textContent);
  var labels = data.labels || {};
  var signed = data.wx;

  function $(selector) { return document.querySelector(selector); }
  function all(selector) { return Array.prototype.slice.call(document.querySelectorAll(selector)); }

  // The coupon's palette colour (the CSP allows styles set through the DOM).
  all(".coupon[data-color]").forEach(function (el) {
    if (el.dataset.color) el.style.background = el.dataset.color;
  });

  function pageError(text) {
    var el = $("[data-page-error]");
    el.textContent = text;
    el.hidden = false;
  }

  function show(cardId, ok, text) {
    var el = document.querySelector('[data-result-for="' + cardId + '"]');
    if (!el) return;
    el.textContent = text;
    el.dataset.ok = ok ? "true" : "false";
    el.hidden = false;
  }

  function buttons() { return all("[data-add-card], [data-add-all]"); }
  function enable(on) { buttons().forEach(function (b) { b.disabled = !on; }); }

  if (!signed) return; // the page says why (no coupons, or WeChat unavailable)
  var wx = window.wx || window.jWeixin;
  if (!wx) { pageError(labels.no_sdk); return; }
  var inWeChat = /MicroMessenger/i.test(navigator.userAgent);
  if (wx.sandbox) {
    $("[data-sandbox-note]").hidden = false;
  } else if (!inWeChat) {
    $("[data-outside-wechat]").hidden = false;
    return;
  }

  var received = {};
  function add(entries) {
    enable(false);
    wx.addCard({
      cardList: entries,
      success: function (res) {
        (res.cardList || []).forEach(function (item) {
          var ok = item.isSuccess === true || item.isSuccess === "true";
          if (ok) received[item.cardId] = true;
          show(item.cardId, ok, ok ? labels.added : labels.not_added);
        });
        settle();
      },
      cancel: function () {
        entries.forEach(function (e) { show(e.cardId, false, labels.cancelled); });
        settle();
      },
      fail: function () {
        entries.forEach(function (e) { show(e.cardId, false, labels.failed); });
        settle();
      }
    });
  }

  // A cardExt receives once: a coupon received here needs a new page to receive again.
  function settle() {
    all("[data-add-card]").forEach(function (b) { b.disabled = !!received[b.dataset.addCard]; });
    var left = signed.cardList.filter(function (e) { return !received[e.cardId]; });
    var allButton = $("[data-add-all]");
    if (allButton) allButton.disabled = left.length === 0;
  }

  document.addEventListener("click", function (event) {
    var one = event.target.closest && event.target.closest("[data-add-card]");
    if (one) {
      add(signed.cardList.filter(function (e) { return e.cardId === one.dataset.addCard; }));
      return;
    }
    if (event.target.closest && event.target.closest("[data-add-all]")) {
      add(signed.cardList.filter(function (e) { return !received[e.cardId]; }));
    }
  });

  wx.ready(function () { settle(); });
  wx.error(function () { pageError(labels.config_failed); enable(false); });
  var config = Object.assign({ debug: false }, signed.config);
  wx.config(config);
})();
