/* Times in the reader's own zone. The server writes <time datetime="…Z" data-local-time>YYYY-MM-DD HH:MM UTC</time>
 * (reviews/templatetags/local_time.py); this rewrites the text in the browser's time zone with the zone's short
 * name (e.g. "2026-12-04 22:45 CET") and keeps the UTC reading in the title. Runs on load and on htmx swaps.
 * Loaded as a file: the CSP forbids inline script. */
(function () {
  "use strict";

  function pad(n) {
    return n < 10 ? "0" + n : String(n);
  }

  function zoneName(moment) {
    try {
      var parts = new Intl.DateTimeFormat(undefined, { timeZoneName: "short" }).formatToParts(moment);
      for (var i = 0; i < parts.length; i++) if (parts[i].type === "timeZoneName") return parts[i].value;
    } catch (e) { /* an old browser: the offset below */ }
    var offset = -moment.getTimezoneOffset();
    return "UTC" + (offset >= 0 ? "+" : "-") + pad(Math.floor(Math.abs(offset) / 60)) + ":" + pad(Math.abs(offset) % 60);
  }

  function localise(element) {
    if (element.getAttribute("data-localised") === "true") return;
    var moment = new Date(element.getAttribute("datetime"));
    if (isNaN(moment.getTime())) return;
    var text = moment.getFullYear() + "-" + pad(moment.getMonth() + 1) + "-" + pad(moment.getDate()) + " " +
      pad(moment.getHours()) + ":" + pad(moment.getMinutes()) + " " + zoneName(moment);
    element.setAttribute("title", element.textContent.trim());
    element.textContent = text;
    element.setAttribute("data-localised", "true");
  }

  function within(root) {
    if (!root || !root.querySelectorAll) return;
    if (root.matches && root.matches("time[data-local-time]")) localise(root);
    root.querySelectorAll("time[data-local-time]").forEach(localise);
  }

  document.addEventListener("DOMContentLoaded", function () { within(document); });
  document.addEventListener("htmx:load", function (event) { within(event.detail.elt); });
})();
