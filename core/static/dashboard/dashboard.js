// Reseller dashboard: small progressive enhancements. Every page works without this file.
(function () {
  "use strict";

  // Copy buttons: <button data-copy="#id"> copies the text of the element it points at.
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy]");
    if (!button) return;
    var source = document.querySelector(button.getAttribute("data-copy"));
    if (!source || !navigator.clipboard) return;
    navigator.clipboard.writeText(source.textContent.trim()).then(function () {
      var label = button.querySelector("[data-copy-label]") || button;
      var before = label.textContent;
      label.textContent = "Copied";
      button.setAttribute("aria-live", "polite");
      setTimeout(function () { label.textContent = before; }, 1600);
    });
  });

  // Buttons that ask first: <button data-confirm="Remove this member?">.
  document.addEventListener("submit", function (event) {
    var submitter = event.submitter;
    var question = submitter && submitter.getAttribute("data-confirm");
    if (question && !window.confirm(question)) event.preventDefault();
  });

  // Copy buttons only make sense when the clipboard is reachable.
  if (navigator.clipboard) {
    document.documentElement.classList.add("can-copy");
  }
})();
