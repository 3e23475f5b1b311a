/* The one-tap Claim of an alert: the notification opens this page, which claims at once
   (a POST with the page's CSRF token). Without scripts, the button does the same. */
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  var form = document.querySelector("form[data-auto-claim]");
  if (form && !sessionStorage.getItem("claimed:" + form.action)) {
    sessionStorage.setItem("claimed:" + form.action, "1");
    form.requestSubmit ? form.requestSubmit() : form.submit();
  }
});
