/* Reports: the chart of the page's report, from its json_script data (the table under
   it has the same figures). No inline scripts: the Content-Security-Policy allows files. */
(function () {
  "use strict";

  var COLORS = ["#3b5bdb", "#f59f00", "#0ca678", "#e8590c", "#7048e8", "#1098ad"];

  function dollars(value) {
    if (Math.abs(value) >= 1000000) { return "$" + (value / 1000000).toFixed(1) + "M"; }
    if (Math.abs(value) >= 1000) { return "$" + Math.round(value / 1000) + "k"; }
    return "$" + value;
  }

  function draw() {
    var canvas = document.querySelector("canvas[data-report-chart]");
    var node = document.getElementById(canvas ? canvas.dataset.chartData : "");
    if (!canvas || !node || !window.Chart || window.Chart.getChart(canvas)) { return; }
    var data = JSON.parse(node.textContent);
    var horizontal = canvas.dataset.reportChart === "funnel";
    var ticks = data.money ? { callback: dollars } : { precision: 0 };
    var valueAxis = { beginAtZero: true, ticks: ticks };
    var labelAxis = { grid: { display: false } };
    new window.Chart(canvas, {
      type: "bar",
      data: {
        labels: data.labels,
        datasets: data.datasets.map(function (set, index) {
          return { label: set.label, data: set.data, backgroundColor: COLORS[index % COLORS.length], borderRadius: 4 };
        })
      },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: { duration: 300 },
        indexAxis: horizontal ? "y" : "x",
        plugins: {
          legend: { display: data.datasets.length > 1, position: "bottom" },
          tooltip: data.money ? { callbacks: { label: function (item) { return item.dataset.label + ": $" + Number(item.raw).toLocaleString(); } } } : {}
        },
        scales: horizontal ? { x: valueAxis, y: labelAxis } : { y: valueAxis, x: labelAxis }
      }
    });
  }

  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", draw); } else { draw(); }
})();
