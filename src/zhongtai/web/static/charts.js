// Trend charts with Apache ECharts (served by the app itself; see the Makefile's `assets`). Each element
// with data-chart holds {"x": [labels], "y": [values], "min": n}; its plain SVG line is replaced by a chart
// with axes, labels and a tooltip. Without ECharts (no npm at install) the plain line stays.
(function () {
  "use strict";
  function draw(el) {
    var spec = JSON.parse(el.getAttribute("data-chart"));
    if (!spec.y || !spec.y.length) { return; }
    el.textContent = "";
    el.classList.add("echart");
    var chart = window.echarts.init(el, null, { renderer: "canvas" });
    chart.setOption({
      animation: false,
      grid: { left: 36, right: 12, top: 8, bottom: 22 },
      tooltip: { trigger: "axis", valueFormatter: function (v) { return Number(v).toFixed(1); } },
      xAxis: { type: "category", data: spec.x, boundaryGap: false, axisLabel: { fontSize: 10 } },
      yAxis: { type: "value", min: spec.min, max: 100, splitNumber: 2, axisLabel: { fontSize: 10 } },
      series: [{
        name: el.getAttribute("data-name") || "", type: "line", data: spec.y,
        showSymbol: spec.y.length < 12, lineStyle: { color: "#b91c1c", width: 2 }, itemStyle: { color: "#b91c1c" }
      }]
    });
    window.addEventListener("resize", function () { chart.resize(); });
  }
  function start() {
    if (!window.echarts) { return; }
    Array.prototype.forEach.call(document.querySelectorAll("[data-chart]"), draw);
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", start); } else { start(); }
})();
