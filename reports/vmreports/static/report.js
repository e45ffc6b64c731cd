/* vmtriage report: draw the charts from the embedded JSON with uPlot.
 * Hover reads values (the cursor is shared by every chart), dragging zooms every chart to the
 * same time range, double-click or "reset zoom" shows the whole capture again. Findings'
 * time windows are shaded. Text from the bundle only reaches the page as canvas text or
 * textContent, never as HTML. */
(function () {
  "use strict";

  var state = { charts: {}, errors: [], ready: false };
  window.vmtriageReport = state;

  var UNITS = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
  var SEVERITY = {
    critical: [180, 35, 24],
    warning: [181, 71, 8],
    info: [23, 92, 211]
  };

  function sig(v) {
    var a = Math.abs(v);
    if (a >= 100) return v.toFixed(0);
    if (a >= 10) return v.toFixed(1);
    return v.toFixed(2);
  }

  function thousands(v) {
    return Math.round(v).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  }

  function fmtBytes(v) {
    if (v == null || !isFinite(v)) return "–";
    var a = Math.abs(v), i = 0;
    while (a >= 1024 && i < UNITS.length - 1) { a /= 1024; i++; }
    if (i === 0) return thousands(v) + " B";
    return sig(v < 0 ? -a : a) + " " + UNITS[i];
  }

  function fmtCount(v) {
    if (v == null || !isFinite(v)) return "–";
    var a = Math.abs(v);
    if (a >= 1e9) return sig(v / 1e9) + " G";
    if (a >= 1e6) return sig(v / 1e6) + " M";
    if (a >= 100 || v === Math.round(v)) return thousands(v);
    if (a >= 10) return v.toFixed(1);
    return v.toFixed(2);
  }

  function fmtValue(unit, v, label) {
    if (v == null || !isFinite(v)) return "–";
    if (unit === "bytes") return fmtBytes(v);
    if (unit === "bytes_per_s") return fmtBytes(v) + "/s";
    if (unit === "pct") return (Math.abs(v) < 0.1 && v !== 0 ? v.toFixed(2) : v.toFixed(1)) + " %";
    return fmtCount(v) + (label ? " " + label : "/s");
  }

  /* Axis ticks: round binary sizes (no trailing zeros), compact counts. */
  function trim(text) { return text.indexOf(".") < 0 ? text : text.replace(/\.?0+$/, ""); }

  function axisBytes(v) {
    if (v === 0) return "0";
    var a = Math.abs(v), i = 0;
    while (a >= 1024 && i < UNITS.length - 1) { a /= 1024; i++; }
    return trim(sig(v < 0 ? -a : a)) + " " + UNITS[i];
  }

  function fmtAxis(unit, v) {
    if (v == null) return "";
    if (unit === "pct") return trim(v.toFixed(2)) + " %";
    if (unit === "bytes") return axisBytes(v);
    if (unit === "bytes_per_s") return v === 0 ? "0" : axisBytes(v) + "/s";
    var a = Math.abs(v);
    if (a >= 1e9) return trim(sig(v / 1e9)) + "G";
    if (a >= 1e6) return trim(sig(v / 1e6)) + "M";
    if (a >= 1e4) return trim(sig(v / 1e3)) + "k";
    return trim(v.toFixed(a < 1 ? 2 : a < 10 ? 1 : 0));
  }

  /* Tick steps for sizes: powers of two, so ticks land on 256 MiB, 512 MiB, 1 GiB, 4 GiB... */
  var BYTE_INCRS = (function () {
    var out = [];
    for (var p = 0; p < 60; p++) out.push(Math.pow(2, p));
    return out;
  })();

  function fmtTick(ts, span) {
    var d = new Date(ts * 1000);
    var hm = pad(d.getUTCHours()) + ":" + pad(d.getUTCMinutes());
    if (span > 2 * 86400) return (d.getUTCMonth() + 1) + "/" + d.getUTCDate() + " " + hm;
    return span > 1200 ? hm : hm + ":" + pad(d.getUTCSeconds());
  }

  function axisSize(u, values, axisIdx, cycleNum) {
    var longest = 0;
    (values || []).forEach(function (v) { if (v && v.length > longest) longest = v.length; });
    return Math.max(40, Math.ceil(longest * 6.6) + 18);
  }

  function pad(n) { return (n < 10 ? "0" : "") + n; }

  function fmtTime(ts, span) {
    if (ts == null) return "–";
    var d = new Date(ts * 1000);
    var hms = pad(d.getUTCHours()) + ":" + pad(d.getUTCMinutes()) + ":" + pad(d.getUTCSeconds());
    if (span != null && span < 86400) return hms + " UTC";
    return d.getUTCFullYear() + "-" + pad(d.getUTCMonth() + 1) + "-" + pad(d.getUTCDate()) + " " +
      pad(d.getUTCHours()) + ":" + pad(d.getUTCMinutes()) + ":" + pad(d.getUTCSeconds()) + " UTC";
  }

  function rgba(color, alpha) {
    var hex = color.replace("#", "");
    var r = parseInt(hex.substr(0, 2), 16), g = parseInt(hex.substr(2, 2), 16),
      b = parseInt(hex.substr(4, 2), 16);
    return "rgba(" + r + "," + g + "," + b + "," + alpha + ")";
  }

  /* Shade each finding's time window (under the series) and label it (over them). */
  function marksPlugin(marks) {
    function span(u, m) {
      var left = u.bbox.left, right = u.bbox.left + u.bbox.width;
      /* A window outside the samples: a marker at that edge, labelled, not a sliver. */
      if (m.outside === "before") return [left, left + 2 * uPlot.pxRatio];
      if (m.outside === "after") return [right - 2 * uPlot.pxRatio, right];
      var x0 = Math.max(left, u.valToPos(m.start, "x", true));
      var x1 = Math.min(right, u.valToPos(m.end, "x", true));
      var min = 3 * uPlot.pxRatio;
      if (x1 - x0 < min) { x0 -= min / 2; x1 = x0 + min; }
      return x1 < left || x0 > right ? null : [x0, x1];
    }
    return {
      hooks: {
        drawClear: [function (u) {
          var ctx = u.ctx;
          marks.forEach(function (m) {
            var s = span(u, m), c = SEVERITY[m.severity] || SEVERITY.info;
            if (!s) return;
            ctx.save();
            ctx.fillStyle = "rgba(" + c.join(",") + ",0.10)";
            ctx.fillRect(s[0], u.bbox.top, s[1] - s[0], u.bbox.height);
            ctx.fillStyle = "rgba(" + c.join(",") + ",0.55)";
            ctx.fillRect(s[0], u.bbox.top, uPlot.pxRatio, u.bbox.height);
            ctx.restore();
          });
        }],
        draw: [function (u) {
          var ctx = u.ctx, row = 0;
          marks.forEach(function (m) {
            var s = span(u, m), c = SEVERITY[m.severity] || SEVERITY.info;
            if (!s) return;
            ctx.save();
            ctx.font = "600 " + Math.round(10.5 * uPlot.pxRatio) + "px system-ui, sans-serif";
            ctx.fillStyle = "rgb(" + c.join(",") + ")";
            ctx.textBaseline = "top";
            var y = u.bbox.top + (3 + 13 * (row % 3)) * uPlot.pxRatio;
            ctx.textAlign = "left";  /* uPlot leaves its last axis alignment on the context */
            if (m.outside === "after") {
              ctx.textAlign = "right";
              ctx.fillText(m.code + " after the capture \u25B6", s[0] - 4 * uPlot.pxRatio, y);
            } else if (m.outside === "before") {
              ctx.fillText("\u25C0 " + m.code + " before the capture", s[1] + 4 * uPlot.pxRatio, y);
            } else {
              ctx.fillText(m.code, s[0] + 4 * uPlot.pxRatio, y);
            }
            ctx.restore();
            row++;
          });
        }]
      }
    };
  }

  var syncing = false;

  function syncZoom(u, key) {
    if (key !== "x" || syncing || !state.ready) return;
    var min = u.scales.x.min, max = u.scales.x.max;
    syncing = true;
    try {
      Object.keys(state.charts).forEach(function (id) {
        var other = state.charts[id];
        if (other !== u) other.setScale("x", { min: min, max: max });
      });
    } finally {
      syncing = false;
    }
  }

  function resetZoom() {
    syncing = true;
    try {
      Object.keys(state.charts).forEach(function (id) {
        var u = state.charts[id], xs = u.data[0];
        if (xs.length) u.setScale("x", { min: xs[0], max: xs[xs.length - 1] });
      });
    } finally {
      syncing = false;
    }
  }

  function range(u, min, max) {
    var top = max > 0 ? max * 1.08 : 1;
    return [Math.min(0, min), top];
  }

  function build(spec, el) {
    var unit = spec.unit, unit2 = spec.unit2;
    var data = [spec.x];
    var last = spec.x.length - 1;
    var span = spec.x[last] - spec.x[0];
    var series = [{
      label: "Time",
      value: function (u, v, si, di) { return fmtTime(di == null ? spec.x[last] : v, span); }
    }];
    var bands = [];
    var hasY2 = false;
    var raw = [null];
    var running = null, lastStacked = -1;

    spec.series.forEach(function (s, i) {
      var idx = i + 1;
      var values = s.values;
      var u2 = s.axis === "y2";
      if (u2) hasY2 = true;
      raw.push(values);
      if (s.stack) {
        var summed = values.map(function (v, j) {
          if (v == null) return null;
          return (running && running[j] != null ? running[j] : 0) + v;
        });
        running = summed;
        values = summed;
      }
      data.push(values);
      var opt = {
        label: s.label,
        stroke: s.color,
        width: s.width,
        scale: u2 ? "y2" : "y",
        dash: s.dash ? [5, 4] : undefined,
        points: { show: spec.x.length < 80 ? undefined : false },
        value: (function (rawValues, theUnit, label) {
          return function (u, v, si, di) {
            return fmtValue(theUnit, rawValues[di == null ? last : di], label);
          };
        })(raw[idx], u2 ? unit2 : unit, u2 ? spec.label2 : spec.label)
      };
      if (s.stack) {
        if (lastStacked < 0) opt.fill = rgba(s.color, 0.35);
        else bands.push({ series: [idx, lastStacked], fill: rgba(s.color, 0.35) });
        lastStacked = idx;
      } else if (s.fill) {
        opt.fill = rgba(s.color, 0.12);
      }
      series.push(opt);
    });

    var axisFont = "11px system-ui, sans-serif";
    function yAxis(scale, theUnit, side, label) {
      var axis = {
        scale: scale, side: side, stroke: "#66727f", font: axisFont, size: axisSize,
        label: label || undefined, labelFont: axisFont, labelSize: 16,
        grid: side === 1 ? { show: false } : { stroke: "#eef1f4", width: 1 },
        ticks: { stroke: "#e3e7ec", width: 1 },
        values: function (u, vals) { return vals.map(function (v) { return fmtAxis(theUnit, v); }); }
      };
      if (theUnit === "bytes" || theUnit === "bytes_per_s") axis.incrs = BYTE_INCRS;
      return axis;
    }
    var axes = [
      { stroke: "#66727f", font: axisFont, grid: { stroke: "#eef1f4", width: 1 },
        ticks: { stroke: "#e3e7ec", width: 1 }, space: 64,
        values: function (u, splits) {
          var span = u.scales.x.max - u.scales.x.min;
          return splits.map(function (ts) { return fmtTick(ts, span); });
        } },
      yAxis("y", unit, 3, spec.label)
    ];
    var scales = { x: { time: true }, y: { range: range } };
    if (hasY2) {
      scales.y2 = { range: range };
      axes.push(yAxis("y2", unit2, 1, spec.label2));
    }

    var opts = {
      width: Math.max(280, el.clientWidth),
      height: 220,
      tzDate: function (ts) { return uPlot.tzDate(new Date(ts * 1e3), "Etc/UTC"); },
      series: series,
      bands: bands,
      axes: axes,
      scales: scales,
      legend: {
        live: true,
        markers: {
          dash: function (u, i) { return u.series[i].dash ? "dashed" : "solid"; },
          width: 2
        }
      },
      cursor: {
        sync: { key: "vmtriage", setSeries: false },
        drag: { x: true, y: false, setScale: true },
        points: { size: 6 }
      },
      plugins: [marksPlugin(spec.marks || [])],
      hooks: { setScale: [syncZoom] }
    };
    return new uPlot(opts, data, el);
  }

  function fail(el, id, err) {
    state.errors.push(id + ": " + err);
    if (window.console) console.error("vmtriage chart " + id + ": " + err);
    if (el) {
      var p = document.createElement("p");
      p.className = "chart-error";
      p.textContent = "This chart could not be drawn: " + err;
      el.appendChild(p);
    }
  }

  function init() {
    var payload;
    try {
      payload = JSON.parse(document.getElementById("vm-data").textContent);
    } catch (err) {
      fail(null, "data", err);
      return;
    }
    (payload.charts || []).forEach(function (spec) {
      if (spec.empty) return;
      var el = document.getElementById("plot-" + spec.id);
      if (!el) return;
      try {
        state.charts[spec.id] = build(spec, el);
      } catch (err) {
        fail(el, spec.id, err);
      }
    });
    state.ready = true;

    var button = document.getElementById("reset-zoom");
    if (button) button.addEventListener("click", resetZoom);

    var pending = null;
    function fit(width) {
      Object.keys(state.charts).forEach(function (id) {
        var u = state.charts[id], el = document.getElementById("plot-" + id);
        var w = width || Math.max(280, el.clientWidth);
        if (Math.abs(u.width - w) > 1) u.setSize({ width: w, height: 220 });
      });
    }
    window.addEventListener("resize", function () {
      if (pending) clearTimeout(pending);
      pending = setTimeout(function () { fit(0); }, 120);
    });
    /* Print: one chart per row, as wide as an A4 page's text. */
    window.addEventListener("beforeprint", function () {
      fit(680);
      Array.prototype.forEach.call(document.querySelectorAll("details"), function (d) {
        if (!d.classList.contains("licences")) d.open = true;
      });
    });
    window.addEventListener("afterprint", function () { fit(0); });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
