/* A certification's form: ticking "Always valid" clears and disables the validity (an always valid
   certification has none); unticking gives it back. Without this file the server says so. */
(function () {
  "use strict";

  function sync(box) {
    var days = box.form && box.form.querySelector('input[name="validity_days"]');
    if (!days) return;
    if (box.checked) {
      if (days.value) days.dataset.kept = days.value;
      days.value = "";
      days.disabled = true;
    } else {
      days.disabled = false;
      if (!days.value && days.dataset.kept) days.value = days.dataset.kept;
    }
  }

  document.addEventListener("change", function (event) {
    if (event.target.matches && event.target.matches('input[name="always_valid"]')) sync(event.target);
  });
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll('input[name="always_valid"]').forEach(sync);
  });
})();
