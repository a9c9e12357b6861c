// Bar charts fed from a json_script tag: <div class="chart" data-chart-source="ID">.
// Lives in a static file because the Content-Security-Policy forbids inline scripts.
(function () {
  "use strict";
  function render(el) {
    var source = document.getElementById(el.dataset.chartSource);
    if (!source || !window.echarts) { return; }
    var data = JSON.parse(source.textContent);
    var chart = window.echarts.init(el, null, { renderer: "canvas" });
    chart.setOption({
      color: ["#8b1e1e", "#d4a017", "#3b6ea5"],
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
      legend: { top: 0, type: "scroll" },
      grid: { left: 8, right: 8, bottom: 8, top: 36, containLabel: true },
      xAxis: { type: "category", data: data.categories },
      yAxis: { type: "value", minInterval: 1 },
      series: data.series.map(function (s) {
        return { name: s.name, type: "bar", data: s.data, label: { show: true, position: "top" } };
      })
    });
    window.addEventListener("resize", function () { chart.resize(); });
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll(".chart[data-chart-source]").forEach(render);
  });
})();
