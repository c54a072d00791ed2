// Vigil's graphs: each <figure class="graph" data-graph="URL"> is drawn with uPlot (vendored
// beside this file) from the JSON at URL (/api/v1/graphs/...), and redrawn every 30 s. Colours
// come from the stylesheet's variables, so a theme that changes them changes the graphs too.
// Without JavaScript the figure keeps its table; with no data it says so.
(function () {
  "use strict";

  var REFRESH_MS = 30000;
  var HEIGHT = 260;
  var CYCLE = ["--accent", "--ok", "--pending", "--ack", "--failing", "--muted"];

  function colour(name, fallback) {
    var value = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
    return value || fallback;
  }

  function bytes(v) {
    var units = ["B", "KiB", "MiB", "GiB", "TiB"], i = 0, n = Math.abs(v);
    while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
    return i === 0 ? Math.round(v) + " B" : (v / Math.pow(1024, i)).toFixed(1) + " " + units[i];
  }

  function number(v, unit) {
    if (v == null) return "–";
    if (unit === "bytes") return bytes(v);
    var text = Math.abs(v) >= 1000 || v === Math.round(v) ? String(Math.round(v * 100) / 100) : v.toPrecision(4);
    return unit === "ms" ? text + " ms" : unit === "ratio" ? (v * 100).toFixed(1) + " %" : text;
  }

  // Times as the rest of the dashboard shows them: UTC, 24-hour clock.
  function utc(ts) { return uPlot.tzDate(new Date(ts * 1e3), "Etc/UTC"); }
  var SHORT, DAYS, FULL;  // set in start(), once uPlot is there

  function scaleOf(line) {
    return line.unit === "ms" ? "ms" : line.unit === "ratio" ? "ratio" : "y";
  }

  // uPlot's options and data for one answer of the graph API.
  function build(answer, width) {
    var ink = colour("--ink", "#1d2330");
    var grid = colour("--line", "#e3e6eb");
    var axis = { stroke: colour("--muted", "#667085"), grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 } };
    var series = [{ label: "UTC", value: function (u, ts) { return ts == null ? "–" : FULL(utc(ts)); } }];
    var data = [answer.times];
    // The whole window asked for, also where there is no data yet.
    var scales = { x: { time: true, range: [answer.start, answer.end] } };
    var long = answer.end - answer.start > 86400;
    var axes = [Object.assign({}, axis, {
      values: function (u, ticks) { return ticks.map(function (t) { return (long ? DAYS : SHORT)(utc(t)); }); }
    })];
    answer.lines.forEach(function (line, i) {
      var scale = scaleOf(line);
      if (!scales[scale]) {
        scales[scale] = scale === "ratio" ? { range: [0, 1] } : {};
        axes.push(Object.assign({}, axis, {
          scale: scale,
          side: axes.length === 1 ? 3 : 1,
          size: line.unit === "bytes" ? 80 : 60,
          values: function (u, ticks) { return ticks.map(function (t) { return number(t, line.unit); }); }
        }));
      }
      var stroke = line.unit === "ratio" ? colour("--ok", "#1a7f37") : colour(CYCLE[i % CYCLE.length], ink);
      series.push({
        label: line.name,
        scale: scale,
        stroke: stroke,
        width: 1.5,
        spanGaps: false,
        value: function (u, v) { return number(v, line.unit); }
      });
      data.push(line.values);
    });
    if (answer.threshold) {
      var t = answer.threshold;
      series.push({
        label: "threshold " + t.op + " " + t.value,
        class: "graph-threshold",
        scale: "y",
        stroke: colour("--failing", "#c62828"),
        width: 1.5,
        dash: [6, 4],
        points: { show: false },
        value: function () { return t.op + " " + t.value; }
      });
      data.push(answer.times.map(function () { return t.value; }));
    }
    var opts = {
      width: width, height: HEIGHT, scales: scales, axes: axes, series: series, legend: { live: true }, tzDate: utc
    };
    return { opts: opts, data: data };
  }

  function fits(plot, answer) {
    var expected = answer.lines.length + (answer.threshold ? 1 : 0) + 1;
    return plot.series.length === expected;
  }

  function draw(figure, answer) {
    var box = figure.querySelector(".graph-plot");
    var empty = figure.querySelector(".graph-empty");
    figure.classList.add("graph-live");
    if (answer.empty) {
      if (figure.vigilPlot) { figure.vigilPlot.destroy(); figure.vigilPlot = null; }
      empty.hidden = false;
      figure.dataset.drawn = "empty";
      return;
    }
    empty.hidden = true;
    var built = build(answer, Math.max(box.clientWidth, 300));
    if (figure.vigilPlot && fits(figure.vigilPlot, answer)) {
      figure.vigilPlot.setData(built.data);
    } else {
      if (figure.vigilPlot) figure.vigilPlot.destroy();
      figure.vigilPlot = new uPlot(built.opts, built.data, box);
    }
    figure.vigilAnswer = answer;
    figure.dataset.drawn = "plot";
  }

  function load(figure) {
    fetch(figure.dataset.graph, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : Promise.reject(new Error("status " + r.status)); })
      .then(function (answer) { draw(figure, answer); })
      .catch(function (err) { figure.dataset.drawn = "failed"; figure.title = "graph data: " + err.message; });
  }

  function redrawAll() {
    document.querySelectorAll("figure.graph").forEach(function (figure) {
      if (!figure.vigilAnswer) return;
      if (figure.vigilPlot) { figure.vigilPlot.destroy(); figure.vigilPlot = null; }
      draw(figure, figure.vigilAnswer);
    });
  }

  function start() {
    var figures = document.querySelectorAll("figure.graph[data-graph]");
    if (!figures.length || typeof uPlot === "undefined") return;
    SHORT = uPlot.fmtDate("{HH}:{mm}");
    DAYS = uPlot.fmtDate("{MM}-{DD} {HH}:{mm}");
    FULL = uPlot.fmtDate("{YYYY}-{MM}-{DD} {HH}:{mm}:{ss}");
    figures.forEach(function (figure) {
      load(figure);
      setInterval(function () { load(figure); }, REFRESH_MS);
    });
    var resizing = null;
    window.addEventListener("resize", function () {
      clearTimeout(resizing);
      resizing = setTimeout(function () {
        document.querySelectorAll("figure.graph").forEach(function (figure) {
          var box = figure.querySelector(".graph-plot");
          if (figure.vigilPlot) figure.vigilPlot.setSize({ width: Math.max(box.clientWidth, 300), height: HEIGHT });
        });
      }, 150);
    });
    if (window.matchMedia) {
      window.matchMedia("(prefers-color-scheme: dark)").addEventListener("change", redrawAll);
    }
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
