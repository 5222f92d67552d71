/* Live pushes (htmx ws extension): a push whose out-of-band targets are none of them on this page is dropped
 * before htmx swaps it, instead of logging htmx:oobErrorNoTarget. It happens on the Datasets page when a
 * snapshot built in-process reports its progress before the response that adds its row, and for rows this page
 * does not show. Loaded as a file: the CSP forbids inline script. */
(function () {
  "use strict";

  function targetOf(element) {
    var spec = element.getAttribute("hx-swap-oob") || "true";
    var colon = spec.indexOf(":");
    if (colon !== -1) return document.querySelector(spec.slice(colon + 1));
    return element.id ? document.getElementById(element.id) : null;
  }

  document.addEventListener("htmx:wsBeforeMessage", function (event) {
    var message = event.detail && event.detail.message;
    if (typeof message !== "string") return;
    var parsed = document.createElement("template");
    parsed.innerHTML = message;
    var pushed = Array.prototype.slice.call(parsed.content.children);
    if (pushed.length && pushed.every(function (element) { return !targetOf(element); })) event.preventDefault();
  });
})();
