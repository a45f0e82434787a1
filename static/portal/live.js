// Live parts of pages where a user waits for WeChat: poll a small JSON URL and show
// what it says, and count a quote's seconds down. The server decides every state and
// every number; this file only draws them. No inline scripts (CSP).
//
//   data-live-url="…" data-interval="ms"   the JSON to poll, how often
//   data-final="a b" data-linger="n"        stop n reads after one of these statuses
//   data-bind="path.in.json"                element text = that value
//   data-show-when="a b"                    shown only in these statuses
//   data-show-unless-zero="path"            shown only while that value is not 0
//   data-enable-when="path"                 a button enabled only while that value is true
//   data-attr-href="path"                   an attribute set from a value (here: href)
(() => {
  "use strict";

  function valueAt(data, path) {
    return path.split(".").reduce((node, key) => (node == null ? node : node[key]), data);
  }

  function apply(root, data) {
    if (data.status !== undefined) root.dataset.status = data.status;
    root.querySelectorAll("[data-bind]").forEach((el) => {
      const value = valueAt(data, el.dataset.bind);
      if (value !== undefined && value !== null) el.textContent = value;
    });
    if (data.status !== undefined) {
      root.querySelectorAll("[data-show-when]").forEach((el) => {
        el.hidden = !el.dataset.showWhen.split(" ").includes(data.status);
      });
    }
    root.querySelectorAll("[data-show-unless-zero]").forEach((el) => {
      const value = valueAt(data, el.dataset.showUnlessZero);
      if (value !== undefined && value !== null) el.hidden = Number(value) === 0 || value === "";
    });
    root.querySelectorAll("[data-enable-when]").forEach((el) => {
      const value = valueAt(data, el.dataset.enableWhen);
      if (value !== undefined) el.disabled = !value;
    });
    root.querySelectorAll("[data-attr-href]").forEach((el) => {
      const value = valueAt(data, el.dataset.attrHref);
      if (value) el.setAttribute("href", value);
    });
    const countdown = root.querySelector("[data-countdown]");
    if (countdown && typeof data.seconds_left === "number") countdown.dataset.secondsLeft = data.seconds_left;
    root.dataset.liveReads = String(Number(root.dataset.liveReads || "0") + 1);
  }

  function start(root) {
    const url = root.dataset.liveUrl;
    const interval = parseInt(root.dataset.interval || "1000", 10);
    const final = (root.dataset.final || "").split(" ").filter(Boolean);
    // After a final status, a few more reads: the balance follows the status.
    let linger = parseInt(root.dataset.linger || "0", 10);
    async function tick() {
      try {
        const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
        if (response.ok) {
          const data = await response.json();
          apply(root, data);
          if (final.includes(data.status) && linger-- <= 0) return;
        }
      } catch (err) {
        root.dataset.liveError = String(err);
      }
      setTimeout(tick, interval);
    }
    tick();
  }

  function countdowns() {
    document.querySelectorAll("[data-countdown]").forEach((el) => {
      let left = parseInt(el.dataset.secondsLeft || "0", 10);
      if (left > 0) left -= 1;
      el.dataset.secondsLeft = String(left);
      el.textContent = String(left);
    });
  }

  function init() {
    document.querySelectorAll("[data-live-url]").forEach(start);
    if (document.querySelector("[data-countdown]")) setInterval(countdowns, 1000);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
