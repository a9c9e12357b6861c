// Person file: open the tab named in the address (#timeline, #contacts …) after a save
// redirects back to it.
(function () {
  "use strict";
  function init() {
    var hash = window.location.hash;
    if (!hash || !window.bootstrap) { return; }
    var button = document.querySelector('[data-bs-toggle="tab"][data-bs-target="' + hash + '"]');
    if (button) { window.bootstrap.Tab.getOrCreateInstance(button).show(); }
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
