// The plan editor: show only the fields the chosen step kind (or trigger) uses. Without
// this script every field shows, each labelled with what it is for.
(function () {
  "use strict";

  function toggle(scope, attribute, value) {
    scope.querySelectorAll("[" + attribute + "]").forEach(function (group) {
      var kinds = group.getAttribute(attribute).split(" ");
      group.hidden = kinds.indexOf(value) === -1;
    });
  }

  function wire(form, selectName, attribute) {
    var select = form.querySelector("select[name='" + selectName + "']");
    if (!select) return;
    var update = function () { toggle(form, attribute, select.value); };
    select.addEventListener("change", update);
    update();
  }

  function init() {
    document.querySelectorAll("[data-step-form]").forEach(function (form) { wire(form, "kind", "data-for-kinds"); });
    document.querySelectorAll("#plan-settings").forEach(function (form) { wire(form, "trigger", "data-for-triggers"); });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
