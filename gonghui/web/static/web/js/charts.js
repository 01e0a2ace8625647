/* Bar charts for the desk, with the vendored Apache ECharts.
 * Each <div class="chart" data-chart="KEY" data-chart-source="ID" data-series-name="..."> draws
 * the series KEY ({labels: [...], values: [...]}) from the JSON in <script id="ID"> (Django's
 * json_script), so the page needs no inline script and a strict CSP can refuse all of them.
 */
(function () {
  "use strict";

  function readSource(id) {
    var node = document.getElementById(id);
    if (!node) return null;
    try {
      return JSON.parse(node.textContent);
    } catch (e) {
      return null;
    }
  }

  function draw(el) {
    var source = readSource(el.dataset.chartSource);
    var series = source && source[el.dataset.chart];
    if (!series || !series.values || series.values.length === 0) {
      el.hidden = true;
      return;
    }
    // One row per bar: a district's chart stays short, a province's grows rather than squeezing.
    el.style.height = Math.max(140, 30 * series.values.length + 40) + "px";
    var chart = window.echarts.init(el, null, { renderer: "svg" });
    chart.setOption({
      color: ["#b5121b"],
      grid: { left: 8, right: 16, top: 12, bottom: 8, containLabel: true },
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
      xAxis: { type: "value", minInterval: 1, splitNumber: 3, axisLabel: { hideOverlap: true } },
      yAxis: {
        type: "category",
        inverse: true,
        data: series.labels,
        axisLabel: { width: 96, overflow: "truncate" },
      },
      series: [
        {
          name: el.dataset.seriesName || "",
          type: "bar",
          data: series.values,
          barMaxWidth: 18,
          label: { show: true, position: "right" },
        },
      ],
    });
    window.addEventListener("resize", function () {
      chart.resize();
    });
  }

  function start() {
    if (!window.echarts) return;
    document.querySelectorAll(".chart[data-chart]").forEach(draw);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
