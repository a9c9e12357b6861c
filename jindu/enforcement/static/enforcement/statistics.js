// Statistics chart: cases solved (bars, left axis, 起) and grams seized (line, right axis,
// 克) per month, from a json_script tag: <div class="chart" data-enforcement-chart="ID">.
// Two axes because the two series differ by two orders of magnitude (tens of cases,
// thousands of grams). A static file because the Content-Security-Policy forbids inline scripts.
(function () {
  "use strict";
  function render(el) {
    var source = document.getElementById(el.dataset.enforcementChart);
    if (!source || !window.echarts) { return; }
    var data = JSON.parse(source.textContent);
    var chart = window.echarts.init(el, null, { renderer: "canvas" });
    chart.setOption({
      color: ["#8b1e1e", "#d4a017"],
      tooltip: { trigger: "axis" },
      legend: { top: 0 },
      grid: { left: 8, right: 8, bottom: 8, top: 48, containLabel: true },
      xAxis: { type: "category", data: data.categories },
      yAxis: [
        { type: "value", name: data.series[0].unit, minInterval: 1 },
        { type: "value", name: data.series[1].unit, splitLine: { show: false } }
      ],
      series: [
        { name: data.series[0].name, type: "bar", yAxisIndex: 0, data: data.series[0].data,
          label: { show: true, position: "top" } },
        { name: data.series[1].name, type: "line", yAxisIndex: 1, data: data.series[1].data, smooth: false,
          symbolSize: 7 }
      ]
    });
    window.addEventListener("resize", function () { chart.resize(); });
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll(".chart[data-enforcement-chart]").forEach(render);
  });
})();
