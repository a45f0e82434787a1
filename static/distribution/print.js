// The printable QR code page: its Print button (no inline script: CSP).
document.addEventListener("click", (event) => {
  const button = event.target.closest && event.target.closest("[data-print]");
  if (button) window.print();
});
