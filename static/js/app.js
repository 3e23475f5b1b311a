/* Lead desk: charts from json_script data, and small progressive enhancements.
   No inline scripts anywhere: the Content-Security-Policy allows only this file. */
(function () {
  "use strict";

  var PALETTE = ["#3b5bdb", "#0ca678", "#f59f00", "#e8590c", "#7048e8", "#1098ad", "#d6336c", "#5c940d", "#868e96", "#ae3ec9", "#1c7ed6", "#f03e3e"];
  var STATUS_COLORS = ["#4c6ef5", "#15aabf", "#7950f2", "#be4bdb", "#fab005", "#fd7e14", "#37b24d", "#868e96", "#adb5bd"];

  function shortDollars(value) {
    if (Math.abs(value) >= 1000000) { return "$" + (value / 1000000).toFixed(2).replace(/\.?0+$/, "") + "M"; }
    return "$" + Math.round(value / 1000) + "k";
  }

  function readData(id) {
    var node = document.getElementById(id);
    return node ? JSON.parse(node.textContent) : null;
  }

  function baseOptions(extra) {
    var options = {
      responsive: true,
      maintainAspectRatio: false,
      animation: { duration: 300 },
      plugins: { legend: { display: false } },
      scales: { y: { beginAtZero: true, ticks: { precision: 0 } }, x: { grid: { display: false } } }
    };
    return Object.assign(options, extra || {});
  }

  var builders = {
    funnel: function (data) {
      return {
        type: "bar",
        data: { labels: data.labels, datasets: [{ label: "Leads", data: data.values, backgroundColor: STATUS_COLORS, borderRadius: 4 }] },
        options: baseOptions({
          indexAxis: "y",
          scales: { x: { beginAtZero: true, ticks: { precision: 0 } }, y: { grid: { display: false } } }
        })
      };
    },
    sources: function (data) {
      return {
        type: "bar",
        data: {
          labels: data.labels,
          datasets: data.datasets.map(function (set, index) {
            return { label: set.label, data: set.data, backgroundColor: PALETTE[index % PALETTE.length], borderRadius: 2 };
          })
        },
        options: baseOptions({
          plugins: { legend: { display: true, position: "bottom", labels: { boxWidth: 10, boxHeight: 10 } } },
          scales: { x: { stacked: true, grid: { display: false } }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } }
        })
      };
    },
    scores: function (data) {
      return {
        type: "bar",
        data: { labels: data.labels, datasets: [{ label: "Leads", data: data.values, backgroundColor: ["#a5d8ff", "#74c0fc", "#ffd43b", "#ffa94d", "#ff6b6b"], borderRadius: 4 }] },
        options: baseOptions()
      };
    },
    speed: function (data) {
      return {
        type: "line",
        data: { labels: data.labels, datasets: [{ label: "Median minutes", data: data.values, borderColor: "#3b5bdb", backgroundColor: "rgba(59, 91, 219, 0.12)", fill: true, tension: 0.3, spanGaps: true, pointRadius: 3 }] },
        options: baseOptions()
      };
    },
    market: function (data) {
      return {
        type: "line",
        data: {
          labels: data.labels,
          datasets: data.datasets.map(function (set, index) {
            return { label: set.label, data: set.data, borderColor: PALETTE[index % PALETTE.length], backgroundColor: PALETTE[index % PALETTE.length], tension: 0.3, spanGaps: true, pointRadius: 2 };
          })
        },
        options: baseOptions({
          plugins: {
            legend: { display: data.datasets.length > 1, position: "bottom", labels: { boxWidth: 10, boxHeight: 10 } },
            tooltip: { callbacks: { label: function (item) { return item.dataset.label + ": $" + Number(item.raw).toLocaleString(); } } }
          },
          scales: {
            y: { ticks: { callback: shortDollars } },
            x: { grid: { display: false } }
          }
        })
      };
    }
  };

  function drawCharts(root) {
    if (!window.Chart) { return; }
    root.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
      if (window.Chart.getChart(canvas)) { return; }
      var build = builders[canvas.dataset.chart];
      var data = readData(canvas.dataset.chartData);
      if (build && data) { new window.Chart(canvas, build(data)); }
    });
  }

  function destroyCharts(root) {
    if (!window.Chart) { return; }
    root.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
      var chart = window.Chart.getChart(canvas);
      if (chart) { chart.destroy(); }
    });
  }

  /* Bulk actions on the leads list: select all, count, show the right menu. */
  function wireBulk(root) {
    var form = root.querySelector("#bulk-form");
    if (!form || form.dataset.wired) { return; }
    form.dataset.wired = "1";
    var boxes = function () { return form.querySelectorAll('input[name="lead_ids"]'); };
    var counter = form.querySelector("[data-selected-count]");
    function update() {
      var checked = form.querySelectorAll('input[name="lead_ids"]:checked').length;
      if (counter) { counter.textContent = checked + " selected"; }
    }
    form.addEventListener("change", function (event) {
      var target = event.target;
      if (target.matches("[data-select-all]")) {
        boxes().forEach(function (box) { box.checked = target.checked; });
      }
      if (target.matches("[data-bulk-action]")) {
        form.querySelectorAll("[data-bulk-for]").forEach(function (menu) {
          menu.hidden = menu.dataset.bulkFor !== target.value;
        });
      }
      update();
    });
  }

  /* A table wider than its box scrolls sideways; keyboards can scroll it only when the
     box takes focus, so a box that scrolls becomes a named, focusable region. */
  function regionName(wrap) {
    var caption = wrap.querySelector("caption");
    var section = wrap.closest("section");
    var heading = section && document.getElementById(section.getAttribute("aria-labelledby") || "");
    var sectionName = section && (section.getAttribute("aria-label") || (heading && heading.textContent));
    var name = caption ? caption.textContent : sectionName;
    /* "<section> table": a name of its own, not the section's again */
    return ((name || "").replace(/\s+/g, " ").trim() + " table").trim();
  }

  function markScrollingTables() {
    document.querySelectorAll(".table-wrap").forEach(function (wrap) {
      var scrolls = wrap.scrollWidth > wrap.clientWidth + 1;
      if (scrolls && !wrap.dataset.scrollRegion) {
        wrap.dataset.scrollRegion = "1";
        wrap.setAttribute("tabindex", "0");
        wrap.setAttribute("role", "region");
        wrap.setAttribute("aria-label", regionName(wrap));
      } else if (!scrolls && wrap.dataset.scrollRegion) {
        delete wrap.dataset.scrollRegion;
        ["tabindex", "role", "aria-label"].forEach(function (name) { wrap.removeAttribute(name); });
      }
    });
  }

  var resizeTimer = null;
  function onResize() {
    window.clearTimeout(resizeTimer);
    resizeTimer = window.setTimeout(markScrollingTables, 150);
  }

  function enhance(root) {
    drawCharts(root);
    wireBulk(root);
    markScrollingTables();
  }

  /* Screen readers hear what a swap changed: the text of its [data-announce] element
     (the count of a filtered list, an import finished) goes to the #announcer region. */
  function announce(root) {
    var region = document.getElementById("announcer");
    var news = root.matches && root.matches("[data-announce]") ? root : root.querySelector("[data-announce]");
    if (!region || !news) { return; }
    var text = news.textContent.replace(/\s+/g, " ").trim();
    region.textContent = "";
    window.setTimeout(function () { region.textContent = text; }, 50);  /* the same news twice is still read */
  }

  /* A swap that removes the focused control (a task marked done) would send the keyboard
     back to the top of the page: focus the swapped region instead. (HTMX itself puts the
     focus back on a control the new content has with the same id.) */
  var focusWasIn = null;
  function rememberFocus(event) {
    var target = event.detail.shouldSwap && event.detail.target;
    focusWasIn = target && target.id && target.contains(document.activeElement) ? target.id : null;
  }

  function keepFocusNearby() {
    var region = focusWasIn && document.getElementById(focusWasIn);
    focusWasIn = null;
    if (region && (!document.activeElement || document.activeElement === document.body)) {
      if (!region.hasAttribute("tabindex")) { region.setAttribute("tabindex", "-1"); }
      region.focus({ preventScroll: true });
    }
  }

  /* The installable app: its service worker (push notifications, the shell offline). */
  function registerWorker() {
    var meta = document.querySelector('meta[name="service-worker"]');
    if (!meta || !("serviceWorker" in navigator)) { return; }
    navigator.serviceWorker.register(meta.content, { scope: "/" }).catch(function () { /* offline use only */ });
  }

  document.addEventListener("DOMContentLoaded", function () { enhance(document); registerWorker(); });
  document.addEventListener("htmx:beforeSwap", rememberFocus);
  document.addEventListener("htmx:afterSettle", function (event) {
    keepFocusNearby();
    announce(event.target);
  });
  window.addEventListener("resize", onResize);
  document.addEventListener("toggle", markScrollingTables, true);  /* a <details> opened */
  document.addEventListener("htmx:beforeSwap", function (event) {
    if (event.detail.shouldSwap && event.detail.target) { destroyCharts(event.detail.target); }
  });
  document.addEventListener("htmx:load", function (event) { enhance(event.detail.elt); });
})();
