/* The campaign chart (vendored Apache ECharts): new members and contacts per day as bars, members
 * to date against the straight pace to the target as lines. Data from Django's json_script, so the
 * page needs no inline script.
 */
(function () {
  "use strict";

  function draw(el) {
    var node = document.getElementById(el.dataset.campaignSource);
    var data;
    try {
      data = JSON.parse(node.textContent);
    } catch (e) {
      el.hidden = true;
      return;
    }
    if (!data.days || data.days.length === 0) {
      el.hidden = true;
      return;
    }
    el.style.height = "280px";
    var chart = window.echarts.init(el, null, { renderer: "svg" });
    var l = data.labels;
    chart.setOption({
      color: ["#b5121b", "#9aa0a6", "#1f7a3a", "#9a6700"],
      grid: { left: 8, right: 16, top: 36, bottom: 8, containLabel: true },
      legend: { top: 0, data: [l.members, l.contacts, l.to_date, l.pace] },
      tooltip: { trigger: "axis" },
      xAxis: { type: "category", data: data.days, axisLabel: { hideOverlap: true } },
      yAxis: { type: "value", minInterval: 1 },
      series: [
        { name: l.members, type: "bar", data: data.members, barMaxWidth: 14 },
        { name: l.contacts, type: "bar", data: data.contacts, barMaxWidth: 14 },
        { name: l.to_date, type: "line", data: data.to_date, symbol: "none" },
        { name: l.pace, type: "line", data: data.pace, symbol: "none", lineStyle: { type: "dashed" } },
      ],
    });
    window.addEventListener("resize", function () {
      chart.resize();
    });
  }

  function start() {
    if (!window.echarts) return;
    document.querySelectorAll(".campaign-chart[data-campaign-source]").forEach(draw);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
