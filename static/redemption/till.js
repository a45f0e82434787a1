// The till page (issue 10 §3): scan or type → Enter → the coupon → Enter → the result →
// the field is cleared for the next customer. Talks to /api/redemption/ (the API a
// POS uses) with the session and the CSRF token. The server decides every answer;
// this file only draws them. No inline scripts or styles (CSP).
(() => {
  "use strict";

  const root = document.querySelector("[data-till]");
  if (!root) return;
  const strings = JSON.parse(document.getElementById("till-strings").textContent);
  const $ = (sel) => root.querySelector(sel);
  const field = $("[data-till-code]");
  const form = $("[data-till-form]");
  const couponBox = $("[data-till-coupon]");
  const consumeButton = $("[data-till-consume]");
  const resultBox = $("[data-till-result]");
  const rows = $("[data-till-recent-rows]");

  let shown = null; // the lookup on screen: {code, can_consume, key}
  let busy = false; // a lookup or consume is with the server: Enter does nothing

  function newKey() {
    // crypto.randomUUID needs a secure context; getRandomValues does not.
    const bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return "till-" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  function fill(template, values) {
    return template.replace(/%\((\w+)\)s/g, (_m, name) => (values[name] == null ? "" : values[name]));
  }

  function setState(state) {
    root.dataset.state = state;
  }

  async function post(url, body, headers) {
    const response = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: {
        "Content-Type": "application/json",
        Accept: "application/json",
        "X-CSRFToken": root.dataset.csrf,
        ...(headers || {}),
      },
      body: JSON.stringify(body),
    });
    let data = {};
    try {
      data = await response.json();
    } catch (_err) {
      data = { message: strings.network };
    }
    return { status: response.status, data };
  }

  async function getJSON(url) {
    const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
    return { status: response.status, data: await response.json() };
  }

  function day(iso) {
    return iso ? iso.slice(0, 10) : "";
  }

  function hideResult() {
    resultBox.hidden = true;
    resultBox.dataset.outcome = "";
  }

  function showResult(outcome, title, text) {
    resultBox.hidden = false;
    resultBox.dataset.outcome = outcome; // consumed | refused | checking
    $("[data-till-result-mark]").textContent = outcome === "consumed" ? "✓" : outcome === "checking" ? "…" : "✕";
    $("[data-till-result-title]").textContent = title;
    $("[data-till-result-text]").textContent = text || "";
  }

  function clearCoupon() {
    shown = null;
    couponBox.hidden = true;
    consumeButton.disabled = true;
  }

  function nextCustomer() {
    clearCoupon();
    field.value = "";
    field.focus();
    setState("idle");
  }

  function showCoupon(data) {
    couponBox.hidden = false;
    couponBox.querySelectorAll("[data-till-f]").forEach((el) => {
      const value = data[el.dataset.tillF];
      el.textContent = value == null ? "" : value;
    });
    $("[data-till-validity]").textContent =
      data.valid_from || data.valid_to ? fill(strings.valid, { from: day(data.valid_from), to: day(data.valid_to) }) : "";
    $("[data-till-store-check]").hidden = !data.valid_here || Boolean(data.reason);
    $("[data-till-store-check-text]").textContent = strings.valid_here;
    $("[data-till-time-limit]").hidden = !data.time_limit;
    $("[data-till-outside]").hidden = !data.outside_time_limit;
    const refusal = $("[data-till-refusal]");
    refusal.hidden = !data.reason;
    refusal.dataset.reason = data.reason || "";
    $("[data-till-refusal-text]").textContent = data.reason ? data.message : "";
    $("[data-till-coupon-card]").dataset.ok = data.can_consume ? "true" : "false";
    consumeButton.disabled = !data.can_consume;
  }

  async function lookup(code) {
    busy = true;
    hideResult();
    clearCoupon();
    setState("looking");
    try {
      const { status, data } = await post(root.dataset.lookupUrl, { code });
      if (status === 200) {
        // One Idempotency-Key per lookup: a second Enter or tap repeats the same consume.
        shown = { code: data.code, can_consume: data.can_consume, key: newKey() };
        showCoupon(data);
        setState(data.can_consume ? "shown" : "refused");
        field.select(); // the next scan replaces it; Enter redeems this one
      } else {
        showResult("refused", strings.refused_title, data.message);
        setState("refused");
        field.select();
      }
    } catch (_err) {
      showResult("refused", strings.refused_title, strings.network);
      setState("refused");
    } finally {
      busy = false;
    }
  }

  async function consume() {
    if (!shown || !shown.can_consume || busy) return;
    busy = true;
    consumeButton.disabled = true;
    setState("consuming");
    const current = shown;
    try {
      const { status, data } = await post(
        root.dataset.consumeUrl,
        { code: current.code },
        { "Idempotency-Key": current.key },
      );
      if (status === 202) {
        showResult("checking", strings.checking_title, strings.checking);
        setState("checking");
        await settle(data.attempt_id);
      } else {
        finish(status, data);
      }
    } catch (_err) {
      // The answer was lost on the way: the same key asks again, never consumes twice.
      showResult("refused", strings.refused_title, strings.network);
      consumeButton.disabled = false;
      setState("shown");
      busy = false;
      return;
    }
    busy = false;
    refreshRecent();
  }

  function finish(status, data) {
    const what = [data.title, data.value].filter(Boolean).join(" · ");
    if (status === 200 && data.status === "consumed") {
      showResult("consumed", strings.success_title, fill(strings.give, { what }));
    } else {
      showResult("refused", strings.refused_title, data.message);
    }
    nextCustomer();
    root.dataset.state = status === 200 ? "consumed" : "refused";
  }

  async function settle(attemptId) {
    const url = root.dataset.attemptUrl.replace(/0\/?$/, String(attemptId));
    for (;;) {
      await new Promise((resolve) => setTimeout(resolve, 1500));
      try {
        const { status, data } = await getJSON(url);
        if (status === 200 && data.status !== "checking") {
          finish(data.status === "consumed" ? 200 : 409, data);
          return;
        }
      } catch (_err) {
        // keep polling: the attempt is settled on the server whatever the page does
      }
    }
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (busy) return; // a double Enter while the server answers
    const code = field.value.replace(/[\s-]/g, "");
    if (shown && shown.can_consume && (code === "" || code === shown.code)) {
      consume();
    } else if (code) {
      lookup(code);
    } else {
      field.focus();
    }
  });
  consumeButton.addEventListener("click", () => {
    consume();
    field.focus();
  });
  $("[data-till-cancel]").addEventListener("click", nextCustomer);
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && !busy) {
      stopCamera();
      hideResult();
      nextCustomer();
    }
  });

  // --- the last 20, live ----------------------------------------------------------------
  function cell(text, className) {
    const td = document.createElement("td");
    td.textContent = text == null ? "" : text;
    if (className) td.className = className;
    return td;
  }

  async function refreshRecent() {
    try {
      const { status, data } = await getJSON(root.dataset.recentUrl);
      if (status !== 200) return;
      rows.replaceChildren();
      if (!data.items.length) {
        const tr = document.createElement("tr");
        const td = cell(strings.empty, "muted");
        td.colSpan = 5;
        tr.append(td);
        rows.append(tr);
      }
      data.items.forEach((item) => {
        const tr = document.createElement("tr");
        tr.dataset.outcome = item.status;
        const outcome = cell(strings.outcomes[item.status] || item.status, "till-outcome");
        if (item.status !== "consumed" && item.message) outcome.title = item.message;
        tr.append(
          cell(item.when, "cell-when"),
          cell(item.title),
          cell(item.code, "till-code-text"),
          outcome,
          cell(item.cashier),
        );
        rows.append(tr);
      });
      root.dataset.recentReads = String(Number(root.dataset.recentReads || "0") + 1);
    } catch (_err) {
      // the next tick tries again
    }
  }
  refreshRecent();
  setInterval(() => {
    if (!document.hidden) refreshRecent();
  }, 5000);

  // --- the camera (html5-qrcode, vendored) ---------------------------------------------
  const cameraBox = $("[data-till-camera-box]");
  let scanner = null;

  async function stopCamera() {
    if (scanner) {
      const s = scanner;
      scanner = null;
      try {
        await s.stop();
      } catch (_err) {
        // already stopped
      }
    }
    cameraBox.hidden = true;
  }

  $("[data-till-camera]").addEventListener("click", async () => {
    if (scanner) return stopCamera();
    cameraBox.hidden = false;
    const note = $("[data-till-camera-note]");
    if (typeof window.Html5Qrcode === "undefined" && typeof Html5Qrcode === "undefined") {
      note.textContent = strings.no_camera;
      return;
    }
    try {
      scanner = new Html5Qrcode("till-camera-view");
      await scanner.start({ facingMode: "environment" }, { fps: 10, qrbox: { width: 240, height: 160 } }, (text) => {
        stopCamera();
        field.value = text;
        field.focus();
        lookup(text.replace(/[\s-]/g, ""));
      });
    } catch (_err) {
      scanner = null;
      note.textContent = strings.no_camera;
    }
  });
  $("[data-till-camera-stop]").addEventListener("click", () => {
    stopCamera();
    field.focus();
  });

  field.focus();
})();
