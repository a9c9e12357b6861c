// Live total of the risk assessment form: sums the points of the chosen answers, applies
// the group caps and shows the tier the score alone gives. The saved result (computed on
// the server with the timeline overrides and the C2 rule) is what counts.
(function () {
  "use strict";
  function init() {
    var form = document.querySelector("[data-testid=risk-form]");
    var configNode = document.getElementById("risk-config");
    if (!form || !configNode) { return; }
    var config = JSON.parse(configNode.textContent);
    var totalNode = document.getElementById("risk-total");
    var tierNode = document.getElementById("risk-tier");
    function update() {
      var total = 0;
      var groups = {};
      form.querySelectorAll("input[type=radio][data-points]:checked").forEach(function (input) {
        var item = input.name.replace(/^item_/, "");
        var points = parseInt(input.dataset.points, 10) || 0;
        var group = config.items[item];
        if (group) {
          groups[group] = (groups[group] || 0) + points;
        } else {
          total += points;
        }
      });
      Object.keys(groups).forEach(function (g) {
        var cap = config.groups[g];
        total += (cap === undefined) ? groups[g] : Math.min(groups[g], cap);
      });
      totalNode.textContent = String(total);
      var tier = "C";
      if (total >= config.thresholds.A) { tier = "A"; } else if (total >= config.thresholds.B) { tier = "B"; }
      tierNode.textContent = tier;
    }
    form.addEventListener("change", update);
    update();
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
