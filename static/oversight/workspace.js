/* Reviewer workspace: keyboard shortcuts and time spent. Loaded as a file, so the CSP forbids inline script.
 *
 * 1-4 verdict · c categories (the filter box) · s severity · r rationale · p preferred response · e escalate
 * x skip · a reveal all hidden turns
 * Ctrl+Enter submit · ? help · Esc leaves a text field. Single keys are off while typing in a field.
 */
(function () {
  "use strict";

  var openedAt = Date.now();
  var FOCUS = {
    c: "#category-filter",
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

  function clickFirst(selector) {
    var el = document.querySelector(selector);
    if (!visible(el)) return false;
    el.click();
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
      else if (event.key === "a") handled = clickFirst("#reveal-all");
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

  /* A new item is about to replace the workspace: leave any field first, or htmx would give the focus back to the
   * new field of the same id and swallow the next shortcut. */
  document.addEventListener("htmx:beforeSwap", function (event) {
    var target = event.detail && event.detail.target;
    if (target && target.id === "workspace" && document.activeElement && document.activeElement !== document.body) {
      document.activeElement.blur();
    }
  });

  /* It is in (same task as the swap, so no key lands in between): restart the clock, name the tab after the new
   * item, start reading from the top, and put the focus on its heading. */
  document.addEventListener("htmx:afterSwap", function (event) {
    var target = event.detail && event.detail.target;
    if (!target || target.id !== "workspace") return;
    openedAt = Date.now();
    var workspace = document.getElementById("workspace");
    if (workspace && workspace.dataset.title) document.title = workspace.dataset.title;
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
