// Admin forms that ask first: <form data-confirm="Cancel this contract?"> (no inline handlers under the CSP).
(function () {
  "use strict";
  document.addEventListener("submit", function (event) {
    var question = event.target.getAttribute && event.target.getAttribute("data-confirm");
    if (question && !window.confirm(question)) event.preventDefault();
  });
})();
