// Tourniquet fleet dashboard: confirmation of consequential actions, and a filter for the server rows.
// Everything works without this script; it only adds the confirmations and the filter.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  for (const form of document.querySelectorAll("form[data-confirm]")) {
    form.addEventListener("submit", (event) => {
      if (!window.confirm(form.dataset.confirm)) {
        event.preventDefault();
      }
    });
  }
  const filter = document.getElementById("filter");
  if (filter) {
    filter.addEventListener("input", () => {
      const text = filter.value.trim().toLowerCase();
      for (const row of document.querySelectorAll("#matrix tbody tr.server")) {
        row.hidden = text !== "" && !row.dataset.server.toLowerCase().includes(text);
      }
    });
  }
});
