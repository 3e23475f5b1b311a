/* Lead desk, the chance-to-close backtest: the calibration and decile charts.
   No inline scripts (the Content-Security-Policy allows only files from the site). */
(function () {
  "use strict";

  var MODEL = "#3b5bdb";
  var RULES = "#adb5bd";

  function data(canvas) {
    var node = document.getElementById(canvas.dataset.chartData);
    return node ? JSON.parse(node.textContent) : null;
  }

  function percentAxis(title) {
    return { min: 0, max: 100, title: { display: true, text: title }, ticks: { callback: function (v) { return v + "%"; } } };
  }

  var builders = {
    calibration: function (d) {
      return {
        type: "scatter",
        data: {
          datasets: [
            { label: "Perfect", data: [{ x: 0, y: 0 }, { x: 100, y: 100 }], showLine: true, borderColor: "#ced4da", borderDash: [4, 4], pointRadius: 0 },
            { label: "Model", data: d.model, showLine: true, borderColor: MODEL, backgroundColor: MODEL, pointRadius: 4 },
            { label: "Rule-based score", data: d.rules, showLine: true, borderColor: RULES, backgroundColor: RULES, pointRadius: 4 }
          ]
        },
        options: {
          responsive: true, maintainAspectRatio: false, animation: false,
          plugins: { legend: { display: true, position: "bottom", labels: { boxWidth: 10, boxHeight: 10 } } },
          scales: { x: percentAxis("Stated chance"), y: percentAxis("Share won") }
        }
      };
    },
    deciles: function (d) {
      return {
        type: "bar",
        data: {
          labels: d.labels,
          datasets: d.datasets.map(function (set, index) {
            return { label: set.label, data: set.data, backgroundColor: index === 0 ? MODEL : RULES, borderRadius: 3 };
          })
        },
        options: {
          responsive: true, maintainAspectRatio: false, animation: false,
          plugins: { legend: { display: true, position: "bottom", labels: { boxWidth: 10, boxHeight: 10 } } },
          scales: { x: { title: { display: true, text: "Decile (1 = ranked highest)" }, grid: { display: false } }, y: { beginAtZero: true, title: { display: true, text: "Win rate" }, ticks: { callback: function (v) { return v + "%"; } } } }
        }
      };
    }
  };

  function draw() {
    if (!window.Chart) { return; }
    document.querySelectorAll("canvas[data-winprob-chart]").forEach(function (canvas) {
      if (window.Chart.getChart(canvas)) { return; }
      var build = builders[canvas.dataset.winprobChart];
      var d = data(canvas);
      if (build && d) { new window.Chart(canvas, build(d)); }
    });
  }

  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", draw); } else { draw(); }
})();
