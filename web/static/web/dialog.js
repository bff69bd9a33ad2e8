/* Dialogs: a link with data-open-dialog="ID" opens that <dialog> over the page, and any
   data-close-dialog link inside a dialog closes it (also in content htmx swapped in later). Without
   this file the links open the same forms as pages of their own. */
(function () {
  "use strict";

  document.addEventListener("click", function (event) {
    var opener = event.target.closest && event.target.closest("[data-open-dialog]");
    if (opener) {
      var dialog = document.getElementById(opener.getAttribute("data-open-dialog"));
      if (!dialog || typeof dialog.showModal !== "function") return;
      event.preventDefault();
      dialog.showModal();
      var first = dialog.querySelector("input[type=file], input[type=search], input:not([type=hidden])");
      if (first) first.focus();
      return;
    }
    var closer = event.target.closest && event.target.closest("[data-close-dialog]");
    var open = closer && closer.closest("dialog");
    if (open) {
      event.preventDefault();
      open.close();
    }
  });
})();
