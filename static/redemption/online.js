// Online redemption (redemption/online_*.html): the coupon's colour, one tap per
// button (a double tap sends one form), the checking page asking again until
// WeChat's answer is known, and the consume-share gift through the JS-SDK
// (wx.config signed on the server for this page's URL). No inline script: the data
// is the page's JSON block.
(function () {
  "use strict";

  function $(selector) { return document.querySelector(selector); }
  function all(selector) { return Array.prototype.slice.call(document.querySelectorAll(selector)); }

  // The palette colour (the CSP allows styles set through the DOM).
  all("[data-color]").forEach(function (el) {
    if (el.dataset.color) el.style.background = el.dataset.color;
  });

  // A form is sent once: the second tap of a double tap does nothing.
  all("[data-online-form]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (form.dataset.sent) { event.preventDefault(); return; }
      var store = form.querySelector("[data-store]");
      var submitter = event.submitter;
      var cancelling = submitter && submitter.value === "cancel";
      if (store && !store.disabled && !store.value && !cancelling) {
        event.preventDefault();
        store.focus();
        return;
      }
      form.dataset.sent = "true";
      // Keep the pressed button's value (a disabled button is not sent).
      if (submitter && submitter.name) {
        var carry = document.createElement("input");
        carry.type = "hidden";
        carry.name = submitter.name;
        carry.value = submitter.value;
        form.appendChild(carry);
      }
      all("[data-online-form] button").forEach(function (b) { b.disabled = true; });
    });
  });

  var block = document.getElementById("online-data");
  if (!block) return;
  var data = JSON.parse(block.textContent);
  var labels = data.labels || {};

  function pageError(text) {
    var el = $("[data-page-error]");
    if (!el) return;
    el.textContent = text;
    el.hidden = false;
  }

  if (data.state === "checking" && data.status_url) {
    var tries = 0;
    var ask = function () {
      tries += 1;
      fetch(data.status_url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (r) { return r.json(); })
        .then(function (answer) {
          if (answer.state && answer.state !== "checking") { window.location.reload(); return; }
          if (tries < 60) window.setTimeout(ask, 1500);
        }, function () { if (tries < 60) window.setTimeout(ask, 3000); });
    };
    window.setTimeout(ask, 1000);
    return;
  }

  if (data.state !== "consumed" || !data.wx || !data.gift) return;
  var wx = window.wx || window.jWeixin;
  if (!wx) { pageError(labels.no_sdk); return; }
  // Outside WeChat (a desktop browser) there is no share sheet: the redemption
  // stands, the gift is simply not offered here.
  if (!wx.sandbox && !/MicroMessenger/i.test(navigator.userAgent)) return;
  var button = $("[data-gift]");
  function gift() {
    wx.consumeAndShareCard({
      cardId: data.gift.cardId,
      code: data.gift.code,
      success: function () { $("[data-gift-note]").hidden = false; },
      fail: function () { pageError(labels.gift_failed); }
    });
  }
  wx.ready(function () {
    if (button) {
      button.hidden = false;
      button.addEventListener("click", gift);
    }
    gift(); // WeChat's share sheet for the gift, right after the redemption
  });
  wx.error(function () { pageError(labels.config_failed); });
  wx.config(Object.assign({ debug: false }, data.wx.config));
})();
