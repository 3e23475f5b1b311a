/* The one-tap Claim of an alert: the notification opens this page, which claims at once
   (a POST with the page's CSRF token) and says how it went in place. Without scripts,
   the button posts the same form. */
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  var form = document.querySelector("form[data-auto-claim]");
  if (!form || !window.fetch) { return; }
  var csrf = form.querySelector("input[name=csrfmiddlewaretoken]");
  fetch(form.action, {
    method: "POST",
    credentials: "same-origin",
    headers: { "Accept": "application/json", "X-CSRFToken": csrf ? csrf.value : "" }
  })
    .then(function (response) { return response.json(); })
    .then(function (result) {
      document.getElementById("claim-heading").textContent = result.heading;
      document.getElementById("claim-status").textContent = result.message;
      if (result.lead_url) {
        var open = document.getElementById("claim-open");
        open.querySelector("a").href = result.lead_url;
        open.hidden = false;
      }
      form.hidden = true;
    })
    .catch(function () { /* the button stays: one more tap */ });
});
