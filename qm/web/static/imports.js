// The upload page follows its import: polls GET /api/imports/{id} and updates the
// counts and progress bar; reloads the page once the job is done or failed, so that the
// outcome (what was stored, or the refused row) is rendered by the server.
(function () {
  "use strict";
  var box = document.getElementById("job");
  if (!box) { return; }
  var id = box.getAttribute("data-job");
  var state = box.getAttribute("data-state");
  var lang = document.documentElement.lang || undefined;

  function show(job) {
    var counts = box.querySelectorAll("[data-count]");
    for (var i = 0; i < counts.length; i++) {
      var value = job[counts[i].getAttribute("data-count")];
      if (typeof value === "number") { counts[i].textContent = value.toLocaleString(lang); }
    }
    var bar = document.getElementById("job-progress");
    if (bar) {
      if (job.total_rows) { bar.max = job.total_rows; }
      bar.value = job.rows;
    }
  }

  function poll() {
    fetch("/api/imports/" + encodeURIComponent(id), {
      credentials: "same-origin",
      headers: { "Accept": "application/json" }
    }).then(function (response) {
      if (!response.ok) { throw new Error(String(response.status)); }
      return response.json();
    }).then(function (job) {
      if (job.state !== state) { window.location.reload(); return; }
      show(job);
      window.setTimeout(poll, 1000);
    }).catch(function () {
      window.setTimeout(poll, 5000);
    });
  }

  window.setTimeout(poll, 500);
})();
