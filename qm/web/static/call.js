// The call page, interactive: the player in sync with the transcript, seeking from lines,
// evidence chips and the timeline, keyboard shortcuts, choosing a key point's evidence
// span, and the evaluation form's live total. Plain JS, no inline handlers (the CSP
// allows only this site's script files). Without a recording, lines and chips still
// work as anchors into the transcript.
(function () {
  "use strict";

  var player = document.getElementById("player");
  var timeline = document.getElementById("timeline");
  var playhead = document.getElementById("playhead");
  var lines = Array.prototype.slice.call(document.querySelectorAll("li.seg[data-start]"));
  var current = -1;
  var picking = null; // the decision form waiting for a line to be chosen as evidence

  function num(value) {
    var n = parseFloat(value);
    return isFinite(n) ? n : null;
  }

  function mmss(seconds) {
    var total = Math.max(0, Math.floor(seconds));
    var m = Math.floor(total / 60);
    var s = total % 60;
    return (m < 10 ? "0" : "") + m + ":" + (s < 10 ? "0" : "") + s;
  }

  // The line being said at `t`: the last one started by then (lines are in time order).
  function lineAt(t) {
    var found = -1;
    for (var i = 0; i < lines.length; i++) {
      if (num(lines[i].dataset.start) <= t + 0.05) {
        found = i;
      } else {
        break;
      }
    }
    return found;
  }

  function highlight(index, scroll) {
    if (index === current) {
      return;
    }
    if (current >= 0 && lines[current]) {
      lines[current].classList.remove("playing");
      lines[current].removeAttribute("aria-current");
    }
    current = index;
    if (index >= 0 && lines[index]) {
      lines[index].classList.add("playing");
      lines[index].setAttribute("aria-current", "true");
      if (scroll) {
        lines[index].scrollIntoView({ block: "nearest", behavior: "smooth" });
      }
    }
  }

  function movePlayhead(t) {
    if (!playhead || !timeline) {
      return;
    }
    var duration = num(timeline.dataset.duration);
    if (!duration) {
      return;
    }
    var x = (Math.min(Math.max(t / duration, 0), 1) * 1000).toFixed(2);
    playhead.setAttribute("x1", x);
    playhead.setAttribute("x2", x);
  }

  // Start playing; a refused or interrupted start (autoplay rules, a pause right after)
  // is not an error worth reporting: the position is set either way.
  function play() {
    var playing = player.play();
    if (playing && playing.catch) {
      playing.catch(function () {});
    }
  }

  // Jump to `t` seconds: the player when there is one, else the transcript line there.
  function seek(t) {
    if (t === null) {
      return;
    }
    if (player) {
      player.currentTime = t;
      if (player.paused) {
        play();
      }
    } else {
      var index = lineAt(t);
      if (index >= 0) {
        highlight(index, true);
        history.replaceState(null, "", "#" + lines[index].id);
      }
    }
    highlight(lineAt(t), true);
    movePlayhead(t);
  }

  function stepLine(delta) {
    var from = current;
    if (player && from < 0) {
      from = lineAt(player.currentTime);
    }
    var next = Math.min(Math.max(from + delta, 0), lines.length - 1);
    if (lines[next]) {
      seek(num(lines[next].dataset.start));
    }
  }

  function choose(form, line) {
    var start = line.dataset.start;
    var end = line.dataset.end;
    form.querySelector('input[data-span="start"]').value = start;
    form.querySelector('input[data-span="end"]').value = end;
    var text = line.querySelector(".text");
    var shown = text ? text.textContent.trim() : "";
    if (shown.length > 60) {
      shown = shown.slice(0, 60) + "…";
    }
    var label = form.querySelector("[data-picked]");
    label.textContent = mmss(num(start)) + "–" + mmss(num(end)) + (shown ? " “" + shown + "”" : "");
    label.dataset.start = start;
    label.dataset.end = end;
    stopPicking();
  }

  function stopPicking() {
    if (picking) {
      var button = picking.querySelector(".pick-evidence");
      if (button) {
        button.setAttribute("aria-pressed", "false");
      }
    }
    picking = null;
    document.body.classList.remove("picking");
  }

  document.addEventListener("click", function (event) {
    var target = event.target;
    if (!(target instanceof Element)) {
      return;
    }
    var pick = target.closest(".pick-evidence");
    if (pick) {
      event.preventDefault();
      var form = pick.closest("form");
      if (picking === form) {
        stopPicking();
        return;
      }
      stopPicking();
      picking = form;
      pick.setAttribute("aria-pressed", "true");
      document.body.classList.add("picking");
      return;
    }
    var line = target.closest("li.seg[data-start]");
    if (line && picking) {
      event.preventDefault();
      choose(picking, line);
      return;
    }
    var seeker = target.closest("[data-seek]");
    if (seeker) {
      var href = seeker.getAttribute("href");
      // With a player, every seek control plays from there; without one, real anchors
      // (#seg-3) simply scroll, and the rest find their line by time.
      if (player || !href || href === "#") {
        event.preventDefault();
        seek(num(seeker.getAttribute("data-seek")));
      }
      return;
    }
    if (line && !target.closest("a, button, input, textarea, select, label")) {
      seek(num(line.dataset.start));
    }
  });

  function typing(target) {
    if (!(target instanceof Element)) {
      return false;
    }
    return Boolean(
      target.closest("input, textarea, select, button, [contenteditable], audio, summary")
    );
  }

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) {
      return;
    }
    if (event.key === " " && player) {
      event.preventDefault();
      if (player.paused) {
        play();
      } else {
        player.pause();
      }
    } else if (event.key === "j" || event.key === "J") {
      event.preventDefault();
      stepLine(-1);
    } else if (event.key === "k" || event.key === "K") {
      event.preventDefault();
      stepLine(1);
    } else if (event.key === "Escape" && picking) {
      stopPicking();
    }
  });

  if (player) {
    player.addEventListener("timeupdate", function () {
      highlight(lineAt(player.currentTime), !player.paused);
      movePlayhead(player.currentTime);
    });
    player.addEventListener("seeked", function () {
      highlight(lineAt(player.currentTime), true);
      movePlayhead(player.currentTime);
    });
  }

  // The evaluation form's live total: the server scores the answers as it will on saving.
  var evaluationForm = document.getElementById("evaluation-form");
  var totalBox = document.getElementById("eval-total");
  var unansweredBox = document.getElementById("eval-unanswered");
  var pending = null;
  var asked = 0;

  function refreshTotal() {
    if (!evaluationForm || !totalBox) {
      return;
    }
    var query = new URLSearchParams();
    new FormData(evaluationForm).forEach(function (value, key) {
      if (key.indexOf("answer.") === 0 || key.indexOf("na.") === 0) {
        query.append(key, String(value));
      }
    });
    var ticket = ++asked;
    fetch(evaluationForm.dataset.totalUrl + "?" + query.toString(), {
      headers: { Accept: "application/json" },
      credentials: "same-origin",
    })
      .then(function (response) {
        return response.ok ? response.json() : null;
      })
      .then(function (body) {
        if (!body || ticket !== asked) {
          return; // an invalid answer (the save will name it), or a newer answer asked
        }
        var total = body.total;
        totalBox.textContent = total === null ? "—" : total.toFixed(1);
        totalBox.dataset.total = total === null ? "" : total.toFixed(2);
        totalBox.classList.toggle("critical", Boolean(body.critical_failed));
        if (unansweredBox) {
          var n = body.unanswered.length;
          unansweredBox.dataset.count = String(n);
          unansweredBox.textContent = n
            ? (unansweredBox.dataset.template || "{n}").replace("{n}", String(n))
            : "";
        }
      })
      .catch(function () {});
  }

  if (evaluationForm && !evaluationForm.classList.contains("readonly")) {
    var schedule = function () {
      clearTimeout(pending);
      pending = setTimeout(refreshTotal, 120);
    };
    evaluationForm.addEventListener("change", schedule);
    evaluationForm.addEventListener("input", schedule);
  }
})();
