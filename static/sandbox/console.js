// Console: picking an event name fills in the fields WeChat sends with it.
document.addEventListener("change", (event) => {
  const input = event.target;
  if (!input.matches || !input.matches("[data-event-input]")) return;
  const templates = JSON.parse(document.getElementById("event-templates")?.textContent || "{}");
  const fields = input.form.querySelector("[data-event-fields]");
  if (templates[input.value] !== undefined && fields) fields.value = templates[input.value];
});
