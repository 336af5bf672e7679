// Tables wider than the screen scroll in their own box (dashboard.css); such a box must be
// reachable from the keyboard (WCAG 2.1.1, axe "scrollable-region-focusable"): it gets a tab stop
// and a name taken from its section's heading. Boxes that fit get neither, so no idle tab stops.
(function () {
  "use strict";
  var SELECTOR = ".table-wrap, table.data";

  function nameOf(box) {
    var section = box.closest("section, .work-section, main");
    var heading = section && section.querySelector("h1, h2, h3");
    return (heading ? heading.textContent.trim() : "Table") + " (scrolls sideways)";
  }

  function mark() {
    document.querySelectorAll(SELECTOR).forEach(function (box) {
      if (box.matches("table.data") && box.closest(".table-wrap")) {
        return; // the wrapper scrolls, not the table
      }
      var scrolls = box.scrollWidth > box.clientWidth + 1;
      if (scrolls && !box.hasAttribute("tabindex")) {
        box.setAttribute("tabindex", "0");
        if (!box.matches("table")) {
          box.setAttribute("role", "region");
          box.setAttribute("aria-label", nameOf(box));
        }
        box.dataset.scrollRegion = "1";
      } else if (!scrolls && box.dataset.scrollRegion) {
        box.removeAttribute("tabindex");
        delete box.dataset.scrollRegion;
      }
    });
  }

  document.addEventListener("DOMContentLoaded", mark);
  window.addEventListener("resize", mark);
})();
