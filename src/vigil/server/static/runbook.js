// Runbook runs on the dashboard: open the stream a run's output box names and append each line
// as it is printed, then the exit code and duration; open a destructive step's confirmation
// dialog. Text is only ever set as text, never as HTML. The CSP allows no inline script, so
// this file is the only place the behaviour lives.
(function () {
  "use strict";
  var KEPT = 2000; // text nodes (a frame's lines each) kept in an output box

  function seconds(value) {
    return value === null || value === undefined ? "" : " · " + Number(value).toFixed(2) + " s";
  }

  function ended(box, state, run) {
    var steps = (run.outcome && run.outcome.steps) || [];
    var words = steps
      .filter(function (s) { return s.status !== "succeeded"; })
      .map(function (s) { return "step " + s.number + " " + s.status.replace("_", " ") + (s.reason ? ": " + s.reason : ""); });
    var code = run.exit_code === null ? "?" : run.exit_code;
    state.textContent = "exit " + code + seconds(run.duration) + (run.error ? " · " + run.error : "") +
      (words.length ? " · " + words.join("; ") : "");
    box.classList.add(run.exit_code === 0 ? "ok" : "failed");
    var live = document.getElementById("incident-live");
    if (live && window.htmx) {
      window.htmx.trigger(live, "vigil:refresh"); // the run's timeline entry, without waiting for the poll
    }
  }

  function follow(box) {
    if (box.dataset.following) {
      return;
    }
    box.dataset.following = "yes";
    var lines = box.querySelector(".run-lines");
    var state = box.querySelector(".run-state");
    var source = new EventSource(box.dataset.stream);
    // Lines are added once a frame, together: a step printing hundreds a second would
    // otherwise cost a layout each and fall seconds behind.
    var pending = [];
    var frame = 0;
    function flush() {
      frame = 0;
      if (pending.length) {
        lines.append(pending.join("\n") + "\n");
        pending = [];
        while (lines.childNodes.length > KEPT) {
          lines.removeChild(lines.firstChild); // a long run keeps its latest output, like the server
        }
        lines.scrollTop = lines.scrollHeight;
      }
    }
    function add(text) {
      pending.push(text);
      if (!frame) {
        frame = window.requestAnimationFrame(flush);
      }
    }
    source.addEventListener("line", function (e) { add(JSON.parse(e.data).line); });
    source.addEventListener("lost", function (e) {
      add("[" + JSON.parse(e.data).lost + " lines not shown]");
    });
    source.addEventListener("done", function (e) {
      source.close();
      window.cancelAnimationFrame(frame);
      flush();
      ended(box, state, JSON.parse(e.data));
    });
    source.addEventListener("error", function () {
      if (source.readyState === EventSource.CLOSED) {
        state.textContent = "the connection was lost; reload the page for the outcome";
      }
    });
  }

  function scan(root) {
    if (root.matches && root.matches("[data-stream]")) {
      follow(root);
    }
    if (root.querySelectorAll) {
      root.querySelectorAll("[data-stream]").forEach(follow);
    }
  }

  document.addEventListener("DOMContentLoaded", function () { scan(document); });
  document.addEventListener("htmx:load", function (e) { scan(e.detail.elt); });
  document.addEventListener("click", function (e) {
    var opener = e.target.closest("[data-opens]");
    // The step's own inputs (its placeholders) are checked before the dialog hides them.
    if (opener && (!opener.form || opener.form.reportValidity())) {
      document.getElementById(opener.dataset.opens).showModal();
    }
    var closer = e.target.closest("[data-closes]");
    if (closer) {
      closer.closest("dialog").close();
    }
  });
  // A confirmed step posts from inside its dialog: close it as the request leaves.
  document.addEventListener("htmx:beforeRequest", function (e) {
    var dialog = e.detail.elt.querySelector && e.detail.elt.querySelector("dialog[open]");
    if (dialog) {
      dialog.close();
    }
  });
})();
