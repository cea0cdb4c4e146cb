// The Mini App's sign-in: hand Telegram's initData to the server, then open the console.
(function () {
  "use strict";
  var status = document.getElementById("webapp-status");
  function say(text) { status.textContent = text; }
  var app = window.Telegram && window.Telegram.WebApp;
  if (!app || !app.initData) {
    say(status.dataset.noTelegram);
    return;
  }
  app.ready();
  fetch("/auth/webapp", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ init_data: app.initData }),
    credentials: "same-origin"
  }).then(function (response) {
    if (response.ok) {
      window.location.replace("/");
    } else {
      say(response.status === 403 ? status.dataset.refused : status.dataset.invalid);
    }
  }, function () {
    say(status.dataset.invalid);
  });
})();
