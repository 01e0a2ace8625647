/* Charts of the coverage matrix, with the vendored Apache ECharts (nothing loaded from outside).
 * Each <div data-matrix-chart="heat|by_group|by_region|trend" data-chart-source="ID"> draws its part
 * of the JSON in <script id="ID"> (Django's json_script), so the page has no inline script.
 * Charts follow the window's size (a phone turned sideways, a resized desktop window).
 */
(function () {
  "use strict";

  var RED = "#b5121b";
  var GREEN = "#3f9a4a";

  function readSource(id) {
    var node = document.getElementById(id);
    if (!node) return null;
    try {
      return JSON.parse(node.textContent);
    } catch (e) {
      return null;
    }
  }

  function heat(el, d) {
    if (!d.data.length) return null;
    el.style.height = Math.max(220, 34 * d.y.length + 120) + "px";
    var holes = d.mode === "holes";
    return {
      tooltip: {
        position: "top",
        formatter: function (p) {
          return d.y[p.value[1]] + " · " + d.x[p.value[0]] + "<br>" + p.value[2] + (holes ? "" : "%");
        },
      },
      grid: { left: 8, right: 8, top: 8, bottom: 70, containLabel: true },
      xAxis: { type: "category", data: d.x, axisLabel: { rotate: 40, interval: 0 }, splitArea: { show: true } },
      yAxis: { type: "category", data: d.y, inverse: true, splitArea: { show: true } },
      visualMap: {
        min: 0,
        max: d.max || 1,
        calculable: true,
        orient: "horizontal",
        left: "center",
        bottom: 0,
        itemHeight: 120,
        inRange: { color: holes ? ["#fdf0ef", RED] : ["#fdecea", "#dcefd6", GREEN] },
      },
      // Numbers in the squares only where they fit (not on a phone held upright).
      series: [{ type: "heatmap", data: d.data, label: { show: el.clientWidth / d.x.length >= 44 } }],
    };
  }

  function bars(el, d, name) {
    if (!d.labels.length) return null;
    el.style.height = Math.max(160, 30 * d.labels.length + 50) + "px";
    return {
      color: [GREEN],
      grid: { left: 8, right: 40, top: 12, bottom: 8, containLabel: true },
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
      xAxis: { type: "value", max: 100, axisLabel: { formatter: "{value}%" } },
      yAxis: { type: "category", inverse: true, data: d.labels, axisLabel: { width: 96, overflow: "truncate" } },
      series: [{ name: name, type: "bar", data: d.rate, barMaxWidth: 18, label: { show: true, position: "right", formatter: "{c}%" } }],
    };
  }

  function trend(el, d) {
    if (!d.weeks.length) return null;
    var series = [
      { name: el.dataset.seriesName, type: "line", showSymbol: false, data: d.weeks.map(function (w, i) { return [w, d.members[i]]; }) },
    ];
    if (d.projection.length) {
      series.push({ name: el.dataset.projectionName, type: "line", lineStyle: { type: "dashed" }, data: d.projection });
    }
    if (d.target) {
      series[0].markLine = {
        symbol: "none",
        label: { formatter: el.dataset.targetName + " {c}", position: "insideStartTop" },
        lineStyle: { color: RED },
        data: [{ yAxis: d.target }],
      };
    }
    return {
      color: [RED, "#646a73"],
      grid: { left: 8, right: 16, top: 28, bottom: 32, containLabel: true },
      tooltip: { trigger: "axis" },
      legend: { bottom: 0, left: "center", textStyle: { fontSize: 11 } },
      xAxis: { type: "time" },
      yAxis: { type: "value", minInterval: 1, max: function (v) { return Math.max(v.max, d.target || 0); } },
      series: series,
    };
  }

  function draw(el) {
    var source = readSource(el.dataset.chartSource);
    var key = el.dataset.matrixChart;
    var d = source && source[key];
    var option = null;
    if (d) {
      if (key === "heat") option = heat(el, d);
      else if (key === "trend") option = trend(el, d);
      else option = bars(el, d, el.dataset.seriesName || "");
    }
    if (!option) {
      el.hidden = true;
      return;
    }
    var chart = window.echarts.init(el, null, { renderer: "svg" });
    chart.setOption(option);
    window.addEventListener("resize", function () {
      chart.resize();
    });
  }

  function start() {
    if (!window.echarts) return;
    document.querySelectorAll("[data-matrix-chart]").forEach(draw);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
