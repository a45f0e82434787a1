// The card editor's live preview.
//
// The browser sends the raw form; the server builds WeChat's card JSON from it
// (cards/editor.py, in the merchant's time zone) and computes the title, summary,
// price and every error (cards/rules.py): POST /api/cards/preview/form. This file
// holds no rule and no form → JSON step: it posts the form and draws the answer.
// No inline scripts or style attributes (CSP); everything it needs is in data-*.
function startCardEditor() {
  "use strict";
  const root = document.querySelector(".card-editor");
  if (!root) return;
  const form = root.querySelector("form");
  const csrf = form.querySelector("[name=csrfmiddlewaretoken]").value;
  const $ = (sel) => root.querySelector(sel);
  const $$ = (sel) => root.querySelectorAll(sel);
  const typeFields = JSON.parse(root.dataset.typeFields || "{}");
  const DEBOUNCE_MS = 40;
  // A new, untouched form shows no errors: only fields the user has changed do
  // (an existing draft shows every error at once: it was saved like that).
  const fresh = root.hasAttribute("data-fresh");
  const touched = new Set();

  function one(name) {
    const els = form.querySelectorAll(`[name="${name}"]`);
    let value = "";
    els.forEach((el) => {
      if ((el.type === "radio" || el.type === "checkbox") && !el.checked) return;
      value = el.value;
    });
    return String(value).trim();
  }

  // --- the fields of the chosen type ----------------------------------------------
  function showFieldsOf(type) {
    for (const [name, only] of Object.entries(typeFields)) {
      form.querySelectorAll(`.field-${name}`).forEach((row) => {
        row.hidden = only !== type;
      });
    }
  }

  // --- errors on their fields --------------------------------------------------------
  function rowOf(name) {
    const box = form.querySelector(`.fieldBox.field-${name}`) || form.querySelector(`.form-row.field-${name}`);
    if (!box) return null;
    // A field sharing its line with others (the two dates) shows its error under the
    // whole line, not squeezed inside its own column.
    const row = box.classList.contains("fieldBox") ? box.closest(".form-row") : box;
    return { box, row };
  }

  function showErrors(answer) {
    $$(".live-error").forEach((el) => el.remove());
    $$(".has-live-error").forEach((el) => el.classList.remove("has-live-error"));
    const fieldErrors = answer.field_errors || {};
    const general = [...(answer.general_errors || [])];
    let shown = 0;
    let pending = 0;
    for (const [name, message] of Object.entries(fieldErrors)) {
      const place = rowOf(name);
      if (!place || place.box.hidden || place.row.hidden) {
        general.push(message);
        continue;
      }
      if (fresh && !touched.has(name)) {
        pending += 1;
        continue;
      }
      const list = document.createElement("ul");
      list.className = "errorlist live-error";
      list.dataset.errorFor = name;
      const item = document.createElement("li");
      const label = place.box !== place.row ? place.box.querySelector("label") : null;
      item.textContent = label ? `${label.textContent.replace(/[:：]\s*$/, "")}: ${message}` : message;
      list.appendChild(item);
      place.box.classList.add("has-live-error");
      place.row.appendChild(list);
      shown += 1;
    }
    const visibleGeneral = fresh && touched.size === 0 ? [] : general;
    const box = $("[data-preview-errors]");
    const count = shown + visibleGeneral.length;
    box.hidden = count === 0;
    box.dataset.count = String(count);
    $("[data-preview-general]").textContent = visibleGeneral.join(" ");
    $("[data-preview-ok]").hidden = count !== 0 || pending !== 0 || general.length !== 0;
  }

  // --- drawing the coupon ------------------------------------------------------------
  function draw(answer) {
    $("[data-preview-title]").textContent = answer.title || "—";
    $("[data-preview-summary]").textContent = answer.summary || "—";
    $("[data-preview-usage]").textContent = answer.usage_note || "—";
    $("[data-preview-unit]").textContent = answer.unit_price;
    $("[data-preview-unit-short]").textContent = answer.unit_price;
    $("[data-preview-price]").textContent = answer.price === null ? "—" : answer.price;
    $("[data-preview-brand]").textContent = one("brand_name");
    $("[data-preview-coupon]").style.background = answer.color_hex || "#8f959e";
    const logo = $("[data-preview-logo]");
    const logoUrl = one("logo_url");
    logo.hidden = !logoUrl;
    if (logoUrl && logo.getAttribute("src") !== logoUrl) logo.src = logoUrl;
    const begin = one("begin_date");
    const end = one("end_date");
    $("[data-preview-validity]").textContent = begin && end ? `${begin} – ${end}` : "";
    showErrors(answer);
  }

  // --- asking the server ---------------------------------------------------------------
  let timer = null;
  let seq = 0;
  let inflight = null;

  async function refresh() {
    showFieldsOf(one("card_type") || "CASH");
    const mySeq = ++seq;
    if (inflight) inflight.abort();
    inflight = new AbortController();
    const url = new URL(root.dataset.previewUrl, window.location.href);
    const quantity = $("[data-preview-quantity]").value.trim();
    if (/^\d+$/.test(quantity)) url.searchParams.set("quantity", quantity);
    const body = new URLSearchParams();
    for (const [name, value] of new FormData(form)) {
      if (typeof value === "string" && name !== "csrfmiddlewaretoken") body.append(name, value);
    }
    try {
      const response = await fetch(url, {
        method: "POST",
        headers: { "X-CSRFToken": csrf, Accept: "application/json" },
        body,
        signal: inflight.signal,
        credentials: "same-origin",
      });
      if (!response.ok || mySeq !== seq) return;
      draw(await response.json());
      root.dataset.renderedSeq = String(mySeq);
      root.dataset.renderedAt = String(performance.now());
    } catch (err) {
      if (err.name !== "AbortError") root.dataset.previewError = String(err);
    }
  }

  function schedule(event) {
    const name = event && event.target && event.target.name;
    if (name) touched.add(name === "time_begin" || name === "time_end" ? "time_limit_days" : name);
    root.dataset.lastInputAt = String(performance.now());
    clearTimeout(timer);
    timer = setTimeout(refresh, DEBOUNCE_MS);
  }

  // --- image uploads -----------------------------------------------------------------
  async function upload(input) {
    const name = input.dataset.uploadFor;
    const status = form.querySelector(`[data-status-for="${name}"]`);
    const file = input.files[0];
    if (!file) return;
    const body = new FormData();
    body.append("file", file);
    status.textContent = "…";
    const response = await fetch(root.dataset.uploadUrl, {
      method: "POST",
      headers: { "X-CSRFToken": csrf },
      body,
      credentials: "same-origin",
    });
    const answer = await response.json();
    if (response.status === 201) {
      form.querySelector(`input[name="${name}"]`).value = answer.url;
      const thumb = form.querySelector(`[data-thumb-for="${name}"]`);
      thumb.src = answer.url;
      thumb.hidden = false;
      status.textContent = "✓";
      status.classList.remove("bad");
      touched.add(name);
      schedule();
    } else {
      status.textContent = answer.message || response.statusText;
      status.classList.add("bad");
    }
    input.value = "";
  }

  // --- the preview on phones: folded on top, opened with a tap -------------------------
  const preview = $("[data-preview]");
  const toggle = $("[data-preview-toggle]");
  toggle.addEventListener("click", () => {
    const open = preview.classList.toggle("is-open");
    toggle.setAttribute("aria-expanded", String(open));
  });

  form.addEventListener("input", schedule);
  form.addEventListener("change", (event) => {
    if (event.target.matches("[data-upload-for]")) upload(event.target);
    else schedule(event);
  });
  form.addEventListener("submit", () => {
    // Submitting shows every error the server finds (a new page renders them).
    clearTimeout(timer);
  });
  $("[data-preview-quantity]").addEventListener("input", () => schedule());
  refresh();
}

// The admin loads form media in <head>: start once the page is there.
if (document.readyState === "loading") {
  document.addEventListener("DOMContentLoaded", startCardEditor);
} else {
  startCardEditor();
}
