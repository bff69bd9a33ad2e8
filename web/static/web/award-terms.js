/* An award's terms: ticking "Always valid" clears the expiration date and disables it (an award that
   is always valid has none); unticking gives the date back. Without this file the server says so. */
(function () {
  "use strict";

  function sync(box) {
    var form = box.closest("form");
    var date = form && form.querySelector('input[name="expiration_date"]');
    if (!date) return;
    if (box.checked) {
      if (date.value) date.dataset.kept = date.value;
      date.value = "";
      date.disabled = true;
    } else {
      date.disabled = false;
      if (!date.value && date.dataset.kept) date.value = date.dataset.kept;
    }
  }

  function syncAll(root) {
    root.querySelectorAll('input[name="always_valid"]').forEach(sync);
  }

  document.addEventListener("change", function (event) {
    if (event.target.matches && event.target.matches('input[name="always_valid"]')) sync(event.target);
  });
  document.addEventListener("DOMContentLoaded", function () { syncAll(document); });
  document.addEventListener("htmx:afterSwap", function (event) { syncAll(event.target); });
})();
