/* Small enhancements for every page. The pages work without this file. */
(function () {
  "use strict";

  // A form is sent once: a second click or Enter while the page is loading does nothing.
  // (The server is idempotent where it matters; this spares the user a confusing error page.)
  document.addEventListener("submit", function (event) {
    var form = event.target;
    // getAttribute, not form.method: a field named "method" (the consent form has one) shadows it.
    if (!(form instanceof HTMLFormElement) || (form.getAttribute("method") || "").toLowerCase() !== "post") return;
    if (form.dataset.submitting === "1") {
      event.preventDefault();
      return;
    }
    form.dataset.submitting = "1";
    form.classList.add("is-submitting");
    var buttons = form.querySelectorAll("button[type=submit], button:not([type])");
    buttons.forEach(function (b) { b.setAttribute("aria-disabled", "true"); });
    // Allow another try after a while (a network hiccup must not lock the form forever).
    window.setTimeout(function () {
      form.dataset.submitting = "";
      form.classList.remove("is-submitting");
      buttons.forEach(function (b) { b.removeAttribute("aria-disabled"); });
    }, 8000);
  });

  // Coming back with the Back button restores the page as it was: let its forms be sent again.
  window.addEventListener("pageshow", function (event) {
    if (!event.persisted) return;
    document.querySelectorAll("form.is-submitting").forEach(function (form) {
      form.dataset.submitting = "";
      form.classList.remove("is-submitting");
      form.querySelectorAll("[aria-disabled]").forEach(function (b) { b.removeAttribute("aria-disabled"); });
    });
  });

  // Print buttons (the case page): no inline handlers under the CSP.
  document.querySelectorAll("[data-print]").forEach(function (button) {
    button.hidden = false;
    button.addEventListener("click", function () { window.print(); });
  });

  // Forms that end something for others (closing a disaster event) ask first.
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.dataset.confirm)) {
        event.preventDefault();
        event.stopImmediatePropagation();
      }
    }, true);
  });

  // After a failed submit, move focus to the error summary so it is read out first.
  var summary = document.querySelector(".error-summary, .duplicate-warning");
  if (summary) {
    summary.focus();
  }
})();
