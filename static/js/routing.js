/* Lead desk, routing pages: the offers' countdowns and the fairness ledger's chart.
   No inline scripts (the Content-Security-Policy allows only files from the site). */
(function () {
  "use strict";

  /* "4:32 left" beside each open offer, once a second; the page's own text (the expiry
     time in the viewer's zone) stays for screen readers and for no-script browsers. */
  function formatLeft(milliseconds) {
    var seconds = Math.max(0, Math.round(milliseconds / 1000));
    var minutes = Math.floor(seconds / 60);
    var rest = seconds % 60;
    if (minutes >= 60) {
      return Math.floor(minutes / 60) + " h " + (minutes % 60) + " min left";
    }
    return minutes + ":" + (rest < 10 ? "0" : "") + rest + " left";
  }

  function tick() {
    var now = Date.now();
    document.querySelectorAll("[data-expires-at]").forEach(function (timer) {
      var expires = Date.parse(timer.dataset.expiresAt);
      var label = timer.querySelector("[data-countdown]");
      if (!label || isNaN(expires)) { return; }
      var left = expires - now;
      if (left <= 0) {
        label.textContent = "expired";
        timer.classList.add("countdown-over");
        var card = timer.closest(".offer");
        var claim = card && card.querySelector(".button-claim");
        if (claim && !claim.hasAttribute("aria-disabled")) { claim.setAttribute("aria-disabled", "true"); }
      } else {
        label.textContent = formatLeft(left);
        timer.classList.toggle("countdown-soon", left < 60000);
      }
    });
  }

  /* The fairness ledger: expected vs actual share per agent, side by side. */
  function drawLedger(root) {
    if (!window.Chart) { return; }
    root.querySelectorAll('canvas[data-routing-chart="fairness"]').forEach(function (canvas) {
      if (window.Chart.getChart(canvas)) { return; }
      var node = document.getElementById(canvas.dataset.chartData);
      if (!node) { return; }
      var data = JSON.parse(node.textContent);
      var colors = ["#adb5bd", "#3b5bdb"];
      var still = window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches;
      new window.Chart(canvas, {
        type: "bar",
        data: {
          labels: data.labels,
          datasets: data.datasets.map(function (set, index) {
            return { label: set.label, data: set.data, backgroundColor: colors[index % colors.length], borderRadius: 3 };
          })
        },
        options: {
          responsive: true,
          maintainAspectRatio: false,
          animation: still ? false : { duration: 300 },
          plugins: {
            legend: { display: true, position: "bottom", labels: { boxWidth: 10, boxHeight: 10 } },
            tooltip: { callbacks: { label: function (item) { return item.dataset.label + ": " + item.raw + "%"; } } }
          },
          scales: {
            y: { beginAtZero: true, suggestedMax: 50, ticks: { callback: function (value) { return value + "%"; } } },
            x: { grid: { display: false } }
          }
        }
      });
    });
  }

  /* The rule form shows the fields of the chosen method and fallback only (all are there
     without scripts; a field with an error stays shown). */
  function showChosen(form) {
    form.querySelectorAll("[data-when]").forEach(function (part) {
      var chosen = form.querySelector('[name="' + part.dataset.when + '"]:checked, select[name="' + part.dataset.when + '"]');
      var value = chosen ? chosen.value : "";
      part.hidden = part.dataset.is.split(" ").indexOf(value) < 0 && !part.querySelector(".has-error");
    });
  }

  function wireRuleForm() {
    var form = document.querySelector(".rule-form");
    if (!form) { return; }
    showChosen(form);
    form.addEventListener("change", function () { showChosen(form); });
  }

  function start() {
    wireRuleForm();
    drawLedger(document);
    if (document.getElementById("offers")) {
      tick();
      window.setInterval(tick, 1000);
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
  document.addEventListener("htmx:load", function (event) { drawLedger(event.detail.elt); tick(); });
})();
