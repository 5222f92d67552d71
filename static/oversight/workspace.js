/* Reviewer workspace: keyboard shortcuts and time spent. Loaded as a file, so the CSP forbids inline script.
 *
 * 1-4 verdict · c categories · s severity · r rationale · p preferred response · e escalate · x skip
 * Ctrl+Enter submit · ? help · Esc leaves a text field. Single keys are off while typing in a field.
 */
(function () {
  "use strict";

  var openedAt = Date.now();
  var FOCUS = {
    c: "#categories input[type=checkbox]",
    s: "#id_severity",
    r: "#id_rationale",
    p: "#id_preferred_response",
    e: "#id_escalate_reason",
    x: "#id_skip_reason"
  };
  var TEXT_INPUTS = ["text", "search", "email", "url", "number", "password", "tel"];

  function isTyping(el) {
    if (!el || el === document.body) return false;
    if (el.isContentEditable) return true;
    var tag = el.tagName;
    if (tag === "TEXTAREA" || tag === "SELECT") return true;
    return tag === "INPUT" && TEXT_INPUTS.indexOf((el.getAttribute("type") || "text").toLowerCase()) !== -1;
  }

  function visible(el) {
    return el && !el.disabled && el.type !== "hidden" && el.getClientRects().length > 0;
  }

  function focusFirst(selector) {
    var el = document.querySelector(selector);
    if (!visible(el)) return false;
    el.focus();
    return true;
  }

  function chooseVerdict(n) {
    var radio = document.getElementById("verdict-" + n);
    if (!visible(radio)) return false;
    radio.checked = true;
    radio.focus();
    return true;
  }

  function toggleHelp() {
    var dialog = document.getElementById("shortcut-help");
    if (!dialog) return false;
    if (dialog.open) dialog.close();
    else dialog.showModal();
    return true;
  }

  function submitDecision() {
    var form = document.getElementById("decision-form");
    if (!form) return false;
    form.requestSubmit();
    return true;
  }

  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || event.isComposing) return;
    var handled = false;
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      handled = submitDecision();
    } else if (isTyping(event.target)) {
      if (event.key === "Escape") {
        event.target.blur();
        handled = true;
      }
    } else if (!event.ctrlKey && !event.metaKey && !event.altKey) {
      if (event.key === "?") handled = toggleHelp();
      else if (/^[1-4]$/.test(event.key)) handled = chooseVerdict(event.key);
      else if (Object.prototype.hasOwnProperty.call(FOCUS, event.key)) handled = focusFirst(FOCUS[event.key]);
    }
    if (handled) event.preventDefault();
  });

  /* Seconds spent on the item, sent with the decision (captured before htmx reads the form). */
  document.addEventListener(
    "submit",
    function (event) {
      var seconds = event.target.querySelector && event.target.querySelector("#id_seconds");
      if (seconds) seconds.value = String(Math.round((Date.now() - openedAt) / 1000));
    },
    true
  );

  /* A new item swapped in: restart the clock, start reading from the top, and leave no text field focused
   * (htmx keeps focus on an element with the same id, which would swallow the next shortcut). */
  document.addEventListener("htmx:afterSettle", function (event) {
    if (!event.detail || !event.detail.target || event.detail.target.id !== "workspace") return;
    openedAt = Date.now();
    var heading = document.querySelector("#workspace h1");
    if (heading) {
      heading.setAttribute("tabindex", "-1");
      heading.focus({ preventScroll: true });
    } else if (document.activeElement && isTyping(document.activeElement)) {
      document.activeElement.blur();
    }
    window.scrollTo(0, 0);
  });
})();
