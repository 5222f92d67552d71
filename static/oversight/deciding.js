/* The item page's deciding aids (issue #16): the category filter, focus on a revealed turn, the undo offer
 * that goes away with the edit window, and the verdict that goes along with an escalation. Loaded as a file:
 * the CSP forbids inline script. Listeners sit on the document, so they hold for swapped-in items too. */
(function () {
  "use strict";

  function categoryLabels() {
    return Array.prototype.slice.call(document.querySelectorAll("#category-list label.category"));
  }

  function firstShown() {
    var labels = categoryLabels().filter(function (label) { return !label.hidden; });
    return labels.length ? labels[0].querySelector("input[type=checkbox]") : null;
  }

  function filterCategories(query) {
    var words = query.toLowerCase().trim().split(/\s+/).filter(Boolean);
    var shown = 0;
    categoryLabels().forEach(function (label) {
      var name = label.getAttribute("data-name") || "";
      var match = words.every(function (word) { return name.indexOf(word) !== -1; });
      label.hidden = !match;
      if (match) shown += 1;
    });
    var none = document.querySelector("#categories .category-none");
    if (none) none.hidden = shown !== 0;
  }

  document.addEventListener("input", function (event) {
    if (event.target && event.target.id === "category-filter") filterCategories(event.target.value);
  });

  /* In the filter box: Enter ticks (or unticks) the first match and keeps typing here; Down goes into the list. */
  document.addEventListener("keydown", function (event) {
    var box = event.target;
    if (!box || box.id !== "category-filter" || event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.key === "Enter") {
      event.preventDefault(); // never submits the decision form
      var first = firstShown();
      if (first) first.click();
      box.select();
    } else if (event.key === "ArrowDown") {
      var target = firstShown();
      if (target) {
        event.preventDefault();
        target.focus();
      }
    }
  });

  /* Escalating takes the verdict chosen so far along, as the reviewer's suggestion to the seniors. */
  document.addEventListener(
    "submit",
    function (event) {
      if (!event.target || event.target.id !== "escalate-form") return;
      var field = document.getElementById("id_escalate_verdict");
      var chosen = document.querySelector("#decision-form input[name=verdict]:checked");
      if (field) field.value = chosen ? chosen.value : "";
    },
    true
  );

  /* A revealed turn (or the conversation after "reveal all") keeps the keyboard focus where the reader was. */
  document.addEventListener("htmx:afterSwap", function (event) {
    var target = event.detail && event.detail.target;
    if (!target || !target.id) return;
    var turn = null;
    if (/^message-\d+$/.test(target.id)) turn = document.getElementById(target.id);
    else if (target.id === "conversation") {
      var conversation = document.getElementById("conversation");
      var wanted = conversation && conversation.getAttribute("data-focus");
      turn = wanted ? document.getElementById(wanted) : null;
    }
    if (turn) turn.focus({ preventScroll: false });
  });

  /* The undo offer lasts as long as the edit window. */
  function armUndo() {
    var form = document.querySelector(".undo-form[data-until]");
    if (!form || form.dataset.armed) return;
    form.dataset.armed = "true";
    var left = Date.parse(form.getAttribute("data-until")) - Date.now();
    if (!isNaN(left)) window.setTimeout(function () { form.hidden = true; }, Math.max(0, left));
  }

  document.addEventListener("DOMContentLoaded", armUndo);
  document.addEventListener("htmx:afterSettle", armUndo);
})();
