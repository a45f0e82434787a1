// Small behaviours shared by every portal page. No inline scripts (CSP-friendly).
document.addEventListener("change", (event) => {
  const el = event.target;
  if (el.matches && el.matches("select[data-autosubmit]")) {
    el.form.submit();
  }
});

// A read-only value with a Copy button (the callback URL on the settings page).
document.addEventListener("click", (event) => {
  const button = event.target.closest && event.target.closest("[data-copy-button]");
  if (!button) return;
  const source = button.parentElement.querySelector("[data-copy-source]");
  if (!source) return;
  source.select();
  const done = () => {
    button.textContent = button.dataset.copiedLabel || button.textContent;
  };
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(source.value).then(done, () => document.execCommand("copy") && done());
  } else if (document.execCommand("copy")) {
    done();
  }
});
