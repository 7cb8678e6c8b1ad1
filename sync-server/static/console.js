// The console's one script (ours, no library): keeps the supervision board live and runs the
// fire-alarm timers. Pages work without it (every change is a plain form post).
//
// - The board listens to /console/events (server-sent events): each "change" event means a
//   push touched the user's area, so the board's body is fetched again from /console/board/live
//   and swapped in place (no reload). The colours age with time, so it is also fetched every
//   30 s. A signed-out or expired session sends the page to the sign-in page.
// - Each alarm timer shows the time since the alarm was raised against its arrival target,
//   by the server's clock (the page carries the server's time when it was made).
(function () {
  "use strict";
  var offset = 0; // server time minus this browser's time, ms

  function two(n) { return (n < 10 ? "0" : "") + n; }
  function mmss(ms) {
    var s = Math.max(0, Math.floor(ms / 1000));
    return two(Math.floor(s / 60)) + ":" + two(s % 60);
  }

  function readOffset(root) {
    var el = root.querySelector("[data-now]");
    if (el) { offset = Number(el.getAttribute("data-now")) - Date.now(); }
  }

  function tick() {
    var now = Date.now() + offset;
    var timers = document.querySelectorAll(".timer[data-raised]");
    for (var i = 0; i < timers.length; i++) {
      var t = timers[i];
      var raised = Number(t.getAttribute("data-raised"));
      var target = Number(t.getAttribute("data-target"));
      var until = t.hasAttribute("data-until") ? Number(t.getAttribute("data-until")) : now;
      var text = (t.hasAttribute("data-until") ? "到场用时 " : "已过 ") + mmss(until - raised);
      t.textContent = text;
      t.classList.toggle("late", until > target);
    }
  }

  function signIn() { window.location.href = "/console/login?expired=1"; }

  function refresh(board) {
    return fetch(board.getAttribute("data-live"), { credentials: "same-origin", redirect: "manual" })
      .then(function (r) {
        if (r.type === "opaqueredirect" || r.status === 401 || r.headers.get("x-console-signin")) {
          signIn();
          return;
        }
        if (!r.ok) { return; }
        return r.text().then(function (html) {
          board.innerHTML = html;
          readOffset(board);
          tick();
          board.setAttribute("data-refreshed", String(Date.now()));
        });
      })
      .catch(function () {});
  }

  function live(board) {
    var status = document.getElementById("live-status");
    var source = new EventSource(board.getAttribute("data-events"));
    var pending = null;
    source.addEventListener("open", function () { if (status) { status.textContent = "实时更新：已连接"; } });
    source.addEventListener("error", function () {
      if (status) { status.textContent = "实时更新：重新连接中"; }
      // The session may have ended: ask once.
      refresh(board);
    });
    source.addEventListener("change", function () {
      // Pushes come in bursts: one fetch for a burst.
      if (pending) { return; }
      pending = setTimeout(function () { pending = null; refresh(board); }, 150);
    });
    setInterval(function () { refresh(board); }, 30000);
  }

  document.addEventListener("DOMContentLoaded", function () {
    readOffset(document);
    var board = document.getElementById("board");
    if (board) { live(board); }
    var print = document.querySelectorAll("[data-print]");
    for (var i = 0; i < print.length; i++) {
      print[i].addEventListener("click", function () { window.print(); });
    }
    tick();
    setInterval(tick, 1000);
  });
})();
