/* Catalogue: Actions › Import unenrolments opens its dialog over the page. Without this file the
   link opens the same form as a page of its own. */
(function () {
  "use strict";

  function init() {
    Array.prototype.forEach.call(document.querySelectorAll("[data-open-dialog]"), function (link) {
      var dialog = document.getElementById(link.getAttribute("data-open-dialog"));
      if (!dialog || typeof dialog.showModal !== "function") return;
      link.addEventListener("click", function (event) {
        event.preventDefault();
        dialog.showModal();
        var first = dialog.querySelector("input[type=file]");
        if (first) first.focus();
      });
      Array.prototype.forEach.call(dialog.querySelectorAll("[data-close-dialog]"), function (close) {
        close.addEventListener("click", function (event) {
          event.preventDefault();
          dialog.close();
        });
      });
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
