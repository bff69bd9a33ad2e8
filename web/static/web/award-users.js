/* Award Users: what the administrator flags in the search results moves to "Selected", so it stays
   flagged while they search again. Without this file the search results are part of the form. */
(function () {
  "use strict";

  document.addEventListener("change", function (event) {
    var box = event.target;
    if (!box.matches || !box.matches("input[data-pick]") || !box.checked) return;
    var form = box.closest("form");
    var list = form && form.querySelector("[data-selected-list]");
    if (!list) return;
    var duplicate = list.querySelector('input[name="' + box.name + '"][value="' + box.value + '"]');
    if (!duplicate) {
      var item = box.closest("li").cloneNode(true);
      var copy = item.querySelector("input");
      copy.removeAttribute("data-pick");
      copy.checked = true;
      list.appendChild(item);
    }
    box.closest("li").remove();  // one checkbox per pick in the form
    var empty = form.querySelector("[data-selected-empty]");
    if (empty) empty.textContent = "";
  });
})();
