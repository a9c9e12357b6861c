// Charts of the registry statistics page (persons/statistics.html).
// Data comes from the json_script tag "persons-statistics-charts": {name: chart}; each
// <div data-stats-chart="name"> draws one. A static file because the Content-Security-Policy
// forbids inline scripts.
(function () {
  "use strict";
  var COLORS = ["#8b1e1e", "#d4a017", "#3b6ea5", "#4f8a3c", "#7a5195", "#c2541c", "#5c6b73", "#2a9d8f"];

  function option(chart) {
    if (chart.type === "pie") {
      return {
        color: COLORS,
        tooltip: { trigger: "item", formatter: "{b}：{c}（{d}%）" },
        legend: { type: "scroll", bottom: 0 },
        series: [{ type: "pie", radius: ["35%", "65%"], data: chart.data, label: { formatter: "{b}\n{c}" } }]
      };
    }
    var unit = chart.unit || "";
    return {
      color: COLORS,
      tooltip: { trigger: "axis", axisPointer: { type: chart.type === "bar" ? "shadow" : "line" } },
      legend: { top: 0, type: "scroll" },
      grid: { left: 8, right: 8, bottom: 8, top: 36, containLabel: true },
      xAxis: { type: "category", data: chart.categories, axisLabel: { hideOverlap: true } },
      yAxis: { type: "value", minInterval: unit ? 0 : 1, axisLabel: { formatter: "{value}" + unit } },
      series: chart.series.map(function (s) {
        var out = { name: s.name, type: chart.type, data: s.data };
        if (chart.stack) { out.stack = "total"; }
        if (chart.type === "line") { out.smooth = false; out.symbolSize = 6; }
        return out;
      })
    };
  }

  function render(el, charts) {
    var chart = charts[el.dataset.statsChart];
    if (!chart || !window.echarts) { return; }
    var empty = chart.type === "pie" ? chart.data.length === 0 : chart.categories.length === 0;
    if (empty) {
      el.classList.add("d-none");
      return;
    }
    var instance = window.echarts.init(el, null, { renderer: "canvas" });
    instance.setOption(option(chart));
    window.addEventListener("resize", function () { instance.resize(); });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var source = document.getElementById("persons-statistics-charts");
    if (!source) { return; }
    var charts = JSON.parse(source.textContent);
    document.querySelectorAll("[data-stats-chart]").forEach(function (el) { render(el, charts); });
  });
})();
