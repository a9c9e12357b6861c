// Type-to-search pickers: every <select data-searchable> (the division fields of
// jindu.geo.forms set it) becomes a Tom Select box that filters its options by any part of
// their text — a Chinese name or a numeric code. The <select> stays in the form and keeps
// the value, so the page works unchanged without JavaScript.
// Lives in a static file because the Content-Security-Policy forbids inline scripts; the
// texts come from data-searchable-placeholder / data-searchable-empty (translated server-side).
(function () {
  "use strict";

  function text(className, content) {
    var el = document.createElement("div");  // built as nodes: option text is never parsed as HTML
    el.className = className;
    el.textContent = content;
    return el;
  }

  function enhance(select) {
    if (select.tomselect || select.disabled) { return; }
    var multiple = select.multiple;
    var empty = select.dataset.searchableEmpty || "";
    /* global TomSelect */
    new TomSelect(select, {
      // An optional field's empty choice ("全部", "---------") stays a choice; a required
      // field's becomes the placeholder.
      allowEmptyOption: !select.required && !multiple,
      placeholder: select.dataset.searchablePlaceholder || undefined,
      searchField: ["text"],
      maxOptions: 200,
      plugins: multiple ? ["remove_button"] : [],
      render: {
        no_results: function () { return text("no-results", empty); }
      }
    });
  }

  function enhanceAll(root) {
    if (typeof TomSelect === "undefined" || !root || !root.querySelectorAll) { return; }
    if (root.matches && root.matches("select[data-searchable]")) { enhance(root); }
    root.querySelectorAll("select[data-searchable]").forEach(enhance);
  }

  document.addEventListener("DOMContentLoaded", function () { enhanceAll(document); });
  // Content swapped in by htmx (forms in fragments): htmx fires htmx:load on each new element.
  document.addEventListener("htmx:load", function (event) { enhanceAll(event.target); });
  // htmx keeps a snapshot of the page for the back button: keep plain selects in it, and
  // enhance them again when the snapshot comes back.
  document.addEventListener("htmx:beforeHistorySave", function () {
    document.querySelectorAll("select[data-searchable]").forEach(function (select) {
      if (select.tomselect) { select.tomselect.destroy(); }
    });
  });
  document.addEventListener("htmx:historyRestore", function () { enhanceAll(document); });
})();
