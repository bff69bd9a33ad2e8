/* A box that, ticked, makes another field meaningless ("Always valid" and an expiration date, or a
   validity): ticking it clears and disables that field (data-clears names it); unticking gives its
   value back. Without this file the server says which of the two to clear. */
(function () {
  "use strict";

  function sync(box) {
    var field = box.form && box.form.querySelector('[name="' + box.dataset.clears + '"]');
    if (!field) return;
    if (box.checked) {
      if (field.value) field.dataset.kept = field.value;
      field.value = "";
      field.disabled = true;
    } else {
      field.disabled = false;
      if (!field.value && field.dataset.kept) field.value = field.dataset.kept;
    }
  }

  function syncAll(root) {
    root.querySelectorAll("input[data-clears]").forEach(sync);
  }

  document.addEventListener("change", function (event) {
    if (event.target.matches && event.target.matches("input[data-clears]")) sync(event.target);
  });
  document.addEventListener("DOMContentLoaded", function () { syncAll(document); });
  document.addEventListener("htmx:afterSwap", function (event) { syncAll(event.target); });
})();
