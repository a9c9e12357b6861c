// Status "map" of inspection targets: an ECharts scatter of longitude/latitude (no offline
// base map exists on the intranet), one series per four-colour status. Data comes from a
// json_script tag: <div class="target-map" data-map-source="ID">. Static file because the
// Content-Security-Policy forbids inline scripts.
(function () {
  "use strict";
  var COLOURS = { red: "#c0392b", yellow: "#f1c40f", blue: "#2e6fbd", green: "#23884a" };
  function render(el) {
    var source = document.getElementById(el.dataset.mapSource);
    if (!source || !window.echarts) { return; }
    var data = JSON.parse(source.textContent);
    var chart = window.echarts.init(el, null, { renderer: "canvas" });
    var series = Object.keys(COLOURS).map(function (key) {
      return {
        name: data.labels[key] || key,
        type: "scatter",
        symbolSize: 12,
        itemStyle: { color: COLOURS[key], borderColor: "#333", borderWidth: 0.5 },
        data: data.points.filter(function (p) { return p.colour === key; }).map(function (p) {
          return { value: [Number(p.lon), Number(p.lat)], name: p.name, url: p.url };
        })
      };
    });
    chart.setOption({
      tooltip: {
        trigger: "item",
        formatter: function (p) {
          var enc = window.echarts.format.encodeHTML;  // names are user input
          return enc(p.data.name) + "<br>" + enc(p.seriesName) + "<br>" + p.value[0] + ", " + p.value[1];
        }
      },
      legend: { top: 0 },
      grid: { left: 8, right: 16, bottom: 8, top: 36, containLabel: true },
      xAxis: { type: "value", scale: true, name: data.axis.x, axisLabel: { formatter: "{value}°" } },
      yAxis: { type: "value", scale: true, name: data.axis.y, axisLabel: { formatter: "{value}°" } },
      dataZoom: [{ type: "inside", xAxisIndex: 0 }, { type: "inside", yAxisIndex: 0 }],
      series: series
    });
    chart.on("click", function (p) { if (p.data && p.data.url) { window.location.href = p.data.url; } });
    window.addEventListener("resize", function () { chart.resize(); });
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll(".target-map[data-map-source]").forEach(render);
  });
})();
