// Staffing chart (need, in post, gap per town), fed from the json_script tag the page
// renders; a static file because the Content-Security-Policy forbids inline scripts.
(function () {
  "use strict";
  function render(el) {
    var source = document.getElementById(el.dataset.chartSource);
    if (!source || !window.echarts) { return; }
    var data = JSON.parse(source.textContent);
    var chart = window.echarts.init(el, null, { renderer: "canvas" });
    chart.setOption({
      color: ["#3b6ea5", "#2e7d32", "#8b1e1e"],
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
      legend: { top: 0 },
      grid: { left: 8, right: 8, bottom: 8, top: 36, containLabel: true },
      xAxis: { type: "category", data: data.categories, axisLabel: { interval: 0, rotate: data.categories.length > 8 ? 30 : 0 } },
      yAxis: { type: "value", minInterval: 1 },
      series: [
        { name: el.dataset.labelNeed, type: "bar", data: data.need },
        { name: el.dataset.labelInPost, type: "bar", data: data.in_post },
        { name: el.dataset.labelGap, type: "bar", data: data.gap, label: { show: true, position: "top" } }
      ]
    });
    window.addEventListener("resize", function () { chart.resize(); });
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("#staffing-chart[data-chart-source]").forEach(render);
  });
})();
