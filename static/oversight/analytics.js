/* Analytics charts. Loaded as a file, so the CSP forbids inline script.
 *
 * Each <canvas data-chart="{...}"> is drawn with Chart.js from the JSON in that attribute (data, never run; not
 * a json_script element, which htmx drops from swapped content). Charts stay readable without colour: every
 * series has its own point shape and dash pattern (bars: their own hatching), and a figure's 95% interval
 * (Series.low/high) is an error bar. Animation is off. The table named in the canvas's aria-label holds the
 * same figures as text.
 * Every series carries its counts (Series.n): each point or bar is labelled n=… where the label fits (and always
 * in its tooltip), and an estimate from fewer than MIN_N items is drawn faded (its interval, always drawn, shows
 * how little it says). A series of counts (Series.estimate false) is its own n and is never faded.
 * Charts are drawn on page load and whenever htmx swaps in new results.
 */
(function () {
  "use strict";

  // Okabe-Ito: distinguishable with the common colour-vision deficiencies; shapes and dashes carry it anyway.
  var COLOURS = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442"];
  var POINTS = ["circle", "rect", "triangle", "rectRot", "crossRot", "star", "rectRounded", "cross"];
  var DASHES = [[], [8, 4], [2, 3], [10, 3, 2, 3], [4, 4], [12, 3, 3, 3, 3, 3], [1, 5], [6, 2]];
  var HATCHES = ["solid", "diagonal", "dots", "cross", "horizontal", "vertical", "backslash", "grid"];

  var MIN_N = 10;
  var FADED = "rgba(156, 163, 175, 0.35)";

  function pick(list, i) {
    return list[i % list.length];
  }

  /* A repeating fill for bars: solid, or lines/dots in the series' colour on white. */
  function hatch(kind, colour) {
    if (kind === "solid") return colour;
    var size = 8;
    var tile = document.createElement("canvas");
    tile.width = size;
    tile.height = size;
    var g = tile.getContext("2d");
    g.fillStyle = "#ffffff";
    g.fillRect(0, 0, size, size);
    g.strokeStyle = colour;
    g.fillStyle = colour;
    g.lineWidth = 2;
    g.beginPath();
    if (kind === "dots") {
      g.arc(size / 2, size / 2, 1.8, 0, 2 * Math.PI);
      g.fill();
    } else {
      if (kind === "diagonal" || kind === "cross") {
        g.moveTo(0, size); g.lineTo(size, 0);
        g.moveTo(-2, 2); g.lineTo(2, -2);
        g.moveTo(size - 2, size + 2); g.lineTo(size + 2, size - 2);
      }
      if (kind === "backslash" || kind === "cross") {
        g.moveTo(0, 0); g.lineTo(size, size);
        g.moveTo(size - 2, -2); g.lineTo(size + 2, 2);
        g.moveTo(-2, size - 2); g.lineTo(2, size + 2);
      }
      if (kind === "horizontal" || kind === "grid") {
        g.moveTo(0, size / 2); g.lineTo(size, size / 2);
      }
      if (kind === "vertical" || kind === "grid") {
        g.moveTo(size / 2, 0); g.lineTo(size / 2, size);
      }
      g.stroke();
    }
    return g.createPattern(tile, "repeat");
  }

  /* Error bars from each dataset's `low`/`high` (aligned with its data points), drawn over the series.
   * On line and scatter charts the bars of different series at one x are set a few pixels apart. */
  var intervals = {
    id: "oversightIntervals",
    afterDatasetsDraw: function (chart) {
      var ctx = chart.ctx;
      var y = chart.scales.y;
      var withIntervals = chart.data.datasets.filter(function (d) { return d.low && d.high; }).length;
      var step = chart.config.type === "bar" ? 0 : 5;
      var k = -1;
      chart.data.datasets.forEach(function (dataset, i) {
        if (!dataset.low || !dataset.high) return;
        k += 1;
        if (!chart.isDatasetVisible(i)) return;
        var dodge = (k - (withIntervals - 1) / 2) * step;
        ctx.save();
        ctx.strokeStyle = dataset.borderColor;
        ctx.lineWidth = 1.5;
        ctx.setLineDash([]);
        chart.getDatasetMeta(i).data.forEach(function (point, j) {
          var low = dataset.low[j];
          var high = dataset.high[j];
          if (low === null || high === null || low === undefined || high === undefined || point.skip) return;
          var top = y.getPixelForValue(high);
          var bottom = y.getPixelForValue(low);
          var x = point.x + dodge;
          ctx.beginPath();
          ctx.moveTo(x, top); ctx.lineTo(x, bottom);
          ctx.moveTo(x - 4, top); ctx.lineTo(x + 4, top);
          ctx.moveTo(x - 4, bottom); ctx.lineTo(x + 4, bottom);
          ctx.stroke();
        });
        ctx.restore();
      });
    }
  };

  /* "n=…" above each point or bar of a series with counts, where it fits: a label closer than LABEL_GAP pixels
   * to the one before it in its series is left to the tooltip, which always shows n. */
  var LABEL_GAP = 30;
  var counts = {
    id: "oversightCounts",
    afterDatasetsDraw: function (chart) {
      var ctx = chart.ctx;
      ctx.save();
      ctx.font = "10px system-ui, sans-serif";
      ctx.textAlign = "center";
      ctx.fillStyle = "#374151";
      chart.data.datasets.forEach(function (dataset, i) {
        if (!dataset.n || !chart.isDatasetVisible(i)) return;
        var last = -Infinity;
        chart.getDatasetMeta(i).data.forEach(function (point, j) {
          var n = dataset.n[j];
          if (n === null || n === undefined || point.skip || point.x - last < LABEL_GAP) return;
          ctx.fillText("n=" + n, point.x, Math.max(point.y - 8, chart.chartArea.top + 10));
          last = point.x;
        });
      });
      ctx.restore();
    }
  };

  function countOf(context) {
    var n = context.dataset.n;
    var value = n ? n[context.dataIndex] : null;
    if (value === null || value === undefined) return "";
    return "n=" + value + (context.dataset.estimate && value < MIN_N ? " (fewer than " + MIN_N + ": faded)" : "");
  }

  /* Category charts share one x axis: every x any series has, in the order first seen. */
  function labelsOf(series) {
    var seen = {};
    var labels = [];
    series.forEach(function (s) {
      s.x.forEach(function (x) {
        var key = String(x);
        if (!Object.prototype.hasOwnProperty.call(seen, key)) {
          seen[key] = true;
          labels.push(x);
        }
      });
    });
    return labels;
  }

  function alignTo(labels, s, values) {
    if (!values) return null;
    var at = {};
    s.x.forEach(function (x, i) { at[String(x)] = values[i]; });
    return labels.map(function (x) {
      var value = at[String(x)];
      return value === undefined ? null : value;
    });
  }

  function extent(series, key, better) {
    var found = null;
    series.forEach(function (s) {
      (s[key] || []).forEach(function (v) {
        if (v !== null && v !== undefined && (found === null || better(v, found))) found = v;
      });
    });
    return found;
  }

  function config(spec) {
    var kind = spec.kind;
    var labels = kind === "scatter" ? undefined : labelsOf(spec.series);
    var datasets = spec.series.map(function (s, i) {
      var colour = pick(COLOURS, i);
      var dataset = {
        label: s.label,
        borderColor: colour,
        backgroundColor: kind === "bar" ? hatch(pick(HATCHES, i), colour) : colour,
        borderWidth: kind === "bar" ? 1.5 : 2,
        pointStyle: pick(POINTS, i),
        pointRadius: 4,
        pointHoverRadius: 6,
        spanGaps: false
      };
      if (kind === "scatter") {
        dataset.data = s.x.map(function (x, j) { return { x: x, y: s.y[j] }; });
        dataset.low = s.low;
        dataset.high = s.high;
        dataset.showLine = false;
      } else {
        dataset.data = alignTo(labels, s, s.y);
        dataset.low = alignTo(labels, s, s.low);
        dataset.high = alignTo(labels, s, s.high);
      }
      if (kind !== "bar") {
        dataset.borderDash = pick(DASHES, i);
        dataset.fill = false;
      }
      if (s.n) {
        dataset.n = kind === "scatter" ? s.n : alignTo(labels, s, s.n);
        dataset.estimate = s.estimate !== false;
        var few = dataset.n.map(function (n) { return dataset.estimate && n !== null && n !== undefined && n < MIN_N; });
        var fill = dataset.backgroundColor;
        var fills = few.map(function (faded) { return faded ? FADED : fill; });
        if (kind === "bar") dataset.backgroundColor = fills;
        dataset.pointBackgroundColor = fills;
        dataset.pointBorderColor = few.map(function (faded) { return faded ? FADED : colour; });
      }
      return dataset;
    });
    // Keep whole error bars inside the plot.
    var lowest = extent(spec.series, "low", function (a, b) { return a < b; });
    var highest = extent(spec.series, "high", function (a, b) { return a > b; });
    var yScale = { title: { display: Boolean(spec.y_label), text: spec.y_label } };
    if (lowest !== null) yScale.suggestedMin = lowest;
    if (highest !== null) yScale.suggestedMax = highest;
    // Rates and counts start at 0: an axis from 30 makes small differences look large.
    yScale.beginAtZero = true;
    var xScale = {
      type: kind === "scatter" ? "linear" : "category",
      title: { display: Boolean(spec.x_label), text: spec.x_label }
    };
    if (spec.diagonal) {
      // A reliability diagram: both axes 0..100 and the diagonal of perfect calibration drawn.
      xScale.min = yScale.min = 0;
      xScale.max = yScale.max = 100;
      datasets.push({
        type: "line",
        label: "Perfect calibration",
        data: [{ x: 0, y: 0 }, { x: 100, y: 100 }],
        borderColor: "#6b7280",
        borderDash: [4, 4],
        borderWidth: 1,
        pointRadius: 0,
        fill: false,
        reference: true
      });
    }
    return {
      type: kind,
      data: { labels: labels, datasets: datasets },
      plugins: [intervals, counts],
      options: {
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        interaction: { mode: kind === "scatter" ? "nearest" : "index", intersect: false },
        scales: { x: xScale, y: yScale },
        plugins: {
          legend: { position: "bottom", labels: { usePointStyle: kind !== "bar", boxHeight: 10 } },
          tooltip: { callbacks: { afterLabel: countOf } }
        }
      }
    };
  }

  function draw(canvas) {
    if (!window.Chart || window.Chart.getChart(canvas)) return;
    new window.Chart(canvas, config(JSON.parse(canvas.getAttribute("data-chart"))));
    canvas.setAttribute("data-drawn", "true");
  }

  function drawWithin(root) {
    if (!root || !root.querySelectorAll) return;
    if (root.matches && root.matches("canvas[data-chart]")) draw(root);
    root.querySelectorAll("canvas[data-chart]").forEach(draw);
  }

  function destroyWithin(root) {
    if (!root || !root.querySelectorAll || !window.Chart) return;
    root.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
      var chart = window.Chart.getChart(canvas);
      if (chart) chart.destroy();
    });
  }

  document.addEventListener("DOMContentLoaded", function () { drawWithin(document); });
  document.addEventListener("htmx:load", function (event) { drawWithin(event.detail.elt); });
  document.addEventListener("htmx:historyRestore", function () { drawWithin(document); });
  // Results are swapped whole: free the old charts (and their resize observers) first.
  document.addEventListener("htmx:beforeSwap", function (event) {
    if (event.detail.shouldSwap) destroyWithin(event.detail.target);
  });
})();
