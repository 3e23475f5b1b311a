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

  // Back on the editor after a step was saved, moved or added: the keyboard goes on from
  // that step (the page opens at #step-<id>), not from the top of the page.
  function focusStep() {
    var match = /^#step-\d+$/.exec(window.location.hash);
    var step = match && document.getElementById(match[0].slice(1));
    if (!step) return;
    step.setAttribute("tabindex", "-1");
    step.focus({preventScroll: false});
  }

  function init() {
    focusStep();
    document.querySelectorAll("[data-step-form]").forEach(function (form) { wire(form, "kind", "data-for-kinds"); });
    document.querySelectorAll("#plan-settings").forEach(function (form) { wire(form, "trigger", "data-for-triggers"); });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
