// The exam page's clock and hand-in confirmation. The server owns the deadline: this only shows the
// time left (taken from the page, re-synchronised from state.json every minute) and reloads the page
// when it runs out, so the server can close the paper. Answers autosave through htmx (the form's
// hx-post); without JavaScript the Save button does the same.
(function () {
  "use strict";
  function pad(n) { return (n < 10 ? "0" : "") + n; }
  function show(clock, seconds) {
    var s = Math.max(0, seconds);
    var h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60);
    clock.textContent = (h ? h + ":" : "") + pad(m) + ":" + pad(s % 60);
  }
  document.addEventListener("DOMContentLoaded", function () {
    var bar = document.getElementById("exam-bar");
    var clock = document.getElementById("exam-clock");
    if (!bar || !clock) { return; }
    var endsAt = Date.now() + parseInt(bar.dataset.remaining, 10) * 1000;
    var reloading = false;
    function tick() {
      var left = Math.round((endsAt - Date.now()) / 1000);
      show(clock, left);
      bar.classList.toggle("exam-hurry", left <= 300);
      if (left <= 0 && !reloading) {
        reloading = true;
        document.querySelectorAll("#paper input").forEach(function (el) { el.disabled = true; });
        window.setTimeout(function () { window.location.reload(); }, 1500);
      }
    }
    function sync() {
      fetch(bar.dataset.state, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (state) {
          if (!state) { return; }
          if (state.status !== "in_progress") { window.location.reload(); return; }
          endsAt = Date.now() + state.remaining_seconds * 1000;
        })
        .catch(function () { /* offline for a moment: keep counting */ });
    }
    tick();
    window.setInterval(tick, 1000);
    window.setInterval(sync, 60000);
    document.querySelectorAll("button[data-confirm]").forEach(function (button) {
      button.addEventListener("click", function (event) {
        if (!window.confirm(button.dataset.confirm)) { event.preventDefault(); }
      });
    });
    document.body.addEventListener("htmx:sendError", function () {
      var status = document.getElementById("save-status");
      if (status) { status.textContent = status.dataset.offline || "⚠"; }
    });
  });
})();
