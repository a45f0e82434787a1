// The card editor's live preview.
//
// The form → WeChat JSON declarations come from the server (cards/editor.py, in the
// #card-editor-spec script tag); this file only applies them and draws what
// POST /api/cards/preview answers. No rule of WeChat's lives here: titles, summaries,
// prices and every limit are computed by cards/rules.py on the server.
function startCardEditor() {
  "use strict";
  const specEl = document.getElementById("card-editor-spec");
  const root = document.querySelector(".card-editor");
  if (!specEl || !root) return;
  const spec = JSON.parse(specEl.textContent);
  const form = root.querySelector("form");
  const csrf = form.querySelector("[name=csrfmiddlewaretoken]").value;
  const $ = (sel) => root.querySelector(sel);
  const YUAN = /^\d+(\.\d{1,2})?$/;
  const INT = /^-?\d+$/;
  const HHMM = /^([01]?\d|2[0-3]):([0-5]\d)$/;
  const DEBOUNCE_MS = 40;

  // --- reading the form -----------------------------------------------------------
  function values(name) {
    const out = [];
    form.querySelectorAll(`[name="${name}"]`).forEach((el) => {
      if ((el.type === "checkbox" || el.type === "radio") && !el.checked) return;
      if (el.type === "file") return;
      out.push(String(el.value));
    });
    return out;
  }
  const one = (name) => (values(name).pop() || "").trim();

  function yuanToFen(text) {
    const [whole, frac = ""] = text.split(".");
    return parseInt(whole, 10) * 100 + parseInt((frac + "00").slice(0, 2), 10);
  }

  function timestamp(text, end) {
    const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
    if (!m) return text;
    const utc = Date.UTC(+m[1], +m[2] - 1, +m[3], end ? 23 : 0, end ? 59 : 0, end ? 59 : 0);
    return utc / 1000 - spec.utcOffset;
  }

  function valueOf(field) {
    const text = one(field.name);
    switch (field.kind) {
      case "str":
        return text || null;
      case "int":
        return text ? (INT.test(text) ? parseInt(text, 10) : text) : null;
      case "yuan":
        return text ? (YUAN.test(text) ? yuanToFen(text) : text) : null;
      case "notbool":
        return !["on", "true", "1"].includes(text);
      case "multi": {
        const list = values(field.name).filter((v) => v.trim());
        return list.length ? list : null;
      }
      case "int_multi": {
        const list = values(field.name).filter((v) => v.trim());
        return list.length ? list.map((v) => (INT.test(v) ? parseInt(v, 10) : v)) : null;
      }
      case "date_begin":
      case "date_end":
        return text ? timestamp(text, field.kind === "date_end") : null;
      case "time_limit":
        return timeLimit(values(field.name));
      default:
        return null;
    }
  }

  function timeLimit(days) {
    if (!days.length) return null;
    const begin = one("time_begin");
    const end = one("time_end");
    return days.map((day) => {
      const entry = { type: day };
      if (day !== "HOLIDAY") {
        for (const [prefix, text] of [["begin", begin], ["end", end]]) {
          const m = HHMM.exec(text);
          if (m) {
            entry[`${prefix}_hour`] = parseInt(m[1], 10);
            entry[`${prefix}_minute`] = parseInt(m[2], 10);
          } else if (text) {
            entry[`${prefix}_hour`] = text;
          }
        }
      }
      return entry;
    });
  }

  function setPath(obj, path, value) {
    const keys = path.split(".");
    let node = obj;
    keys.slice(0, -1).forEach((key, i) => {
      const k = /^\d+$/.test(key) ? parseInt(key, 10) : key;
      if (node[k] === undefined || node[k] === null) node[k] = /^\d+$/.test(keys[i + 1]) ? [] : {};
      node = node[k];
    });
    const last = keys[keys.length - 1];
    node[/^\d+$/.test(last) ? parseInt(last, 10) : last] = value;
  }

  function prune(node) {
    if (Array.isArray(node)) {
      const kept = node.filter(
        (v) => v !== undefined && v !== null && !(typeof v === "object" && Object.keys(v).length === 0)
      );
      node.length = 0;
      kept.forEach((v) => node.push(v));
      node.forEach(prune);
    } else if (node && typeof node === "object") {
      Object.values(node).forEach(prune);
    }
  }

  function buildCard() {
    const type = (one("card_type") || "CASH").toUpperCase();
    const t = type.toLowerCase();
    const card = {};
    for (const [path, value] of Object.entries(spec.constants)) setPath(card, path.replace("{t}", t), value);
    for (const field of spec.fields) {
      if (field.only && field.only !== type) continue;
      const path = field.path.replace("{t}", t);
      if (field.kind === "consume_share") {
        const choice = one(field.name);
        if (choice === "self") setPath(card, `${path}.consume_share_self_num`, 1);
        if (choice === "other") {
          setPath(card, `${path}.consume_share_card_list`, [{ card_id: one("consume_share_card"), num: 1 }]);
        }
        continue;
      }
      const value = field.name === "card_type" ? type : valueOf(field);
      if (value !== null && value !== undefined) setPath(card, path, value);
    }
    prune(card);
    return { card, type };
  }

  // --- showing fields of the chosen type -------------------------------------------
  function showFieldsOf(type) {
    for (const field of spec.fields) {
      if (!field.only) continue;
      form.querySelectorAll(`.field-${field.name}`).forEach((row) => {
        row.hidden = field.only !== type;
      });
    }
  }

  // --- errors on their fields --------------------------------------------------------
  function fieldFor(path) {
    const parts = path.split(".");
    while (parts.length) {
      const name = spec.errorFields[parts.join(".")];
      if (name) return name;
      parts.pop();
    }
    return null;
  }

  function showErrors(errors) {
    form.querySelectorAll(".live-error").forEach((el) => el.remove());
    form.querySelectorAll(".has-live-error").forEach((el) => el.classList.remove("has-live-error"));
    const general = [];
    const shown = new Set();
    for (const [path, messages] of Object.entries(errors)) {
      const name = path ? fieldFor(path) : null;
      const box = name && (form.querySelector(`.fieldBox.field-${name}`) || form.querySelector(`.form-row.field-${name}`));
      if (!box || box.hidden) {
        general.push(...messages);
        continue;
      }
      if (shown.has(name)) continue;
      shown.add(name);
      const list = document.createElement("ul");
      list.className = "errorlist live-error";
      list.dataset.errorFor = name;
      const item = document.createElement("li");
      item.textContent = messages[0];
      list.appendChild(item);
      box.classList.add("has-live-error");
      box.appendChild(list);
    }
    const box = $("[data-preview-errors]");
    const count = Object.keys(errors).length;
    box.hidden = count === 0;
    box.dataset.count = String(count);
    box.title = general.join("\n");
    if (general.length) box.textContent = general.join(" ");
    $("[data-preview-ok]").hidden = count !== 0;
  }

  // --- drawing the coupon ------------------------------------------------------------
  function draw(answer) {
    $("[data-preview-title]").textContent = answer.title || "—";
    $("[data-preview-summary]").textContent = answer.summary || "—";
    $("[data-preview-usage]").textContent = answer.usage_note || "—";
    $("[data-preview-unit]").textContent = answer.unit_price;
    $("[data-preview-price]").textContent = answer.price === null ? "—" : answer.price;
    $("[data-preview-brand]").textContent = one("brand_name");
    const coupon = $("[data-preview-coupon]");
    coupon.style.background = answer.color_hex || "#8f959e";
    const logo = $("[data-preview-logo]");
    const logoUrl = one("logo_url");
    logo.hidden = !logoUrl;
    if (logoUrl && logo.getAttribute("src") !== logoUrl) logo.src = logoUrl;
    const begin = one("begin_date");
    const end = one("end_date");
    $("[data-preview-validity]").textContent = begin && end ? `${begin} – ${end}` : "";
    showErrors(answer.errors || {});
  }

  // --- asking the server ---------------------------------------------------------------
  let timer = null;
  let seq = 0;
  let inflight = null;

  async function refresh() {
    const { card, type } = buildCard();
    showFieldsOf(type);
    const mySeq = ++seq;
    if (inflight) inflight.abort();
    inflight = new AbortController();
    const quantity = $("[data-preview-quantity]").value.trim();
    const url = root.dataset.previewUrl + (INT.test(quantity) ? `?quantity=${quantity}` : "");
    try {
      const response = await fetch(url, {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-CSRFToken": csrf },
        body: JSON.stringify({ card }),
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

  function schedule() {
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
      schedule();
    } else {
      status.textContent = answer.message || response.statusText;
      status.classList.add("bad");
    }
    input.value = "";
  }

  form.addEventListener("input", schedule);
  form.addEventListener("change", (event) => {
    if (event.target.matches("[data-upload-for]")) upload(event.target);
    else schedule();
  });
  $("[data-preview-quantity]").addEventListener("input", schedule);
  refresh();
}

// The admin loads form media in <head>: start once the page is there.
if (document.readyState === "loading") {
  document.addEventListener("DOMContentLoaded", startCardEditor);
} else {
  startCardEditor();
}
