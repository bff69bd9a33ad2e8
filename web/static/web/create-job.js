/* Create a Certification Removal Job: a live character counter for Job Title and a drop zone for
   Upload CSV. The form works without this file; it only adds feedback. No inline script needed. */
(function () {
  "use strict";

  function counter(input) {
    var out = document.getElementById(input.getAttribute("data-counter"));
    if (!out) return;
    var spoken = document.getElementById(out.getAttribute("data-announce"));
    var max = parseInt(input.getAttribute("maxlength") || out.getAttribute("data-max"), 10);
    var timer = null;
    function text() {
      var left = max - input.value.length;
      return input.value.length + " of " + max + " characters" + (left <= 10 ? " (" + left + " left)" : "");
    }
    function update() {
      out.textContent = text();
      if (!spoken) return;
      // Screen readers hear the count once typing pauses, not at every key.
      window.clearTimeout(timer);
      timer = window.setTimeout(function () { spoken.textContent = text(); }, 600);
    }
    input.addEventListener("input", update);
    out.textContent = text();
  }

  function dropzone(zone) {
    var input = zone.querySelector("input[type=file]");
    var status = zone.querySelector("[data-file-status]");
    if (!input) return;
    var maxBytes = parseInt(input.getAttribute("data-max-bytes") || "0", 10);

    function show() {
      if (!status) return;
      var file = input.files && input.files[0];
      if (!file) { status.textContent = ""; status.classList.remove("error"); return; }
      var tooLarge = maxBytes && file.size > maxBytes;
      status.textContent = tooLarge ? input.getAttribute("data-size-message") : "Selected: " + file.name;
      status.classList.toggle("error", !!tooLarge);
    }

    function over(event) {
      event.preventDefault();
      if (event.dataTransfer) event.dataTransfer.dropEffect = "copy";
      zone.classList.add("dragging");
    }
    function leave(event) {
      if (event.type === "dragleave" && zone.contains(event.relatedTarget)) return;
      zone.classList.remove("dragging");
    }

    zone.addEventListener("dragenter", over);
    zone.addEventListener("dragover", over);
    zone.addEventListener("dragleave", leave);
    zone.addEventListener("drop", function (event) {
      event.preventDefault();
      leave(event);
      var files = event.dataTransfer && event.dataTransfer.files;
      if (!files || !files.length) return;
      try {
        // One file per job: keep the first one dropped.
        var transfer = new DataTransfer();
        transfer.items.add(files[0]);
        input.files = transfer.files;
      } catch (e) {
        input.files = files;
      }
      input.dispatchEvent(new Event("change", { bubbles: true }));
    });
    input.addEventListener("change", show);
    // A file may be chosen before this deferred script runs (a slow connection, a busy machine): its
    // change event came before the listener, so show what is chosen now. Nothing chosen: the status
    // keeps what the page says (after a rejected upload, to choose the file again).
    if (input.files && input.files.length) show();
  }

  function init() {
    // After a rejected upload the page reloads: take keyboard and screen reader users to the errors.
    var errors = document.querySelector("[data-focus-on-load]");
    if (errors) errors.focus();
    Array.prototype.forEach.call(document.querySelectorAll("input[data-counter]"), counter);
    var zones = document.querySelectorAll("[data-dropzone]");
    Array.prototype.forEach.call(zones, dropzone);
    if (zones.length) {
      // A file dropped just beside the zone must not make the browser leave the form to open it.
      ["dragover", "drop"].forEach(function (type) {
        window.addEventListener(type, function (event) {
          if (!event.defaultPrevented) event.preventDefault();
        });
      });
    }
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
