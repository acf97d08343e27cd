// The big screen: a 1920×1080 stage scaled to the display, figures pushed by Server-Sent Events, charts
// with Apache ECharts (served by the app; without it the figures and tables still show). A lost stream
// reconnects by itself and says so; a kiosk link that stops holding says so and stops.
(function () {
  "use strict";
  var stage = document.getElementById("stage");
  var L = JSON.parse(document.getElementById("labels").textContent);
  var shapes = JSON.parse(document.getElementById("geojson").textContent);
  var base = stage.getAttribute("data-base");
  var kiosk = stage.getAttribute("data-kiosk") === "1";
  var lang = stage.getAttribute("data-lang") === "en" ? "en" : "zh-CN";
  var zone = stage.getAttribute("data-zone") || "Asia/Shanghai";
  var numbers = new Intl.NumberFormat(lang, { maximumFractionDigits: 2 });
  var state = { measure: "scans", dimension: "district", district: null, last: null, streets: null };
  var charts = {};
  var scale = 1;
  var GROUP_COLOURS = { red: "#ef4444", yellow: "#f5c518", arrival: "#60a5fa", contact: "#c084fc" };

  // --- the stage: designed at 1920×1080, scaled to any display (3840×2160 down to 1366×768) ----------
  function fit() {
    scale = Math.min(window.innerWidth / 1920, window.innerHeight / 1080);
    stage.style.transform = "scale(" + scale + ")";
    Object.keys(charts).forEach(function (k) { charts[k].resize(); });
  }
  window.addEventListener("resize", fit);
  fit();

  function clock() {
    var now = new Date();
    var text = now.toLocaleString(lang, { timeZone: zone, hour12: false, year: "numeric", month: "2-digit",
      day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit" });
    document.getElementById("clock").textContent = text;
  }
  setInterval(clock, 1000);
  clock();

  // --- numbers that move to their new value ------------------------------------------------------------
  function show(el, value, suffix) {
    if (value === null || value === undefined) { el.textContent = "—"; el.removeAttribute("data-n"); return; }
    if (typeof value !== "number") { el.textContent = value; return; }
    var from = Number(el.getAttribute("data-n") || value);
    el.setAttribute("data-n", String(value));
    var start = performance.now();
    function step(t) {
      var k = Math.min(1, (t - start) / 800);
      var v = from + (value - from) * (1 - Math.pow(1 - k, 3));
      el.textContent = numbers.format(Number.isInteger(value) ? Math.round(v) : v) + (suffix || "");
      if (k < 1) { requestAnimationFrame(step); }
    }
    requestAnimationFrame(step);
  }
  function value(name, v, suffix) {
    var el = stage.querySelector('[data-value="' + name + '"]');
    if (el) { show(el, v, suffix); }
  }
  function cell(n) { return n === null || n === undefined ? L.text.hidden : numbers.format(n); }

  // --- charts -------------------------------------------------------------------------------------------
  function chart(id) {
    if (!window.echarts) { return null; }
    if (!charts[id]) {
      var dpr = (window.devicePixelRatio || 1) * Math.max(scale, 1);
      charts[id] = window.echarts.init(document.getElementById(id), "dark", { renderer: "canvas", devicePixelRatio: dpr });
    }
    return charts[id];
  }
  var AXIS = { axisLabel: { color: "#9fb3c8", fontSize: 14 }, axisLine: { lineStyle: { color: "#33506b" } },
    splitLine: { lineStyle: { color: "#1c3147" } } };
  function hours(n, stepMinutes, at) {
    var end = new Date(at).getTime();
    var out = [];
    for (var i = n - 1; i >= 0; i--) {
      var t = new Date(end - i * stepMinutes * 60000);
      out.push(t.toLocaleTimeString(lang, { timeZone: zone, hour: "2-digit", minute: "2-digit", hour12: false }));
    }
    return out;
  }
  function line(id, x, series, unit) {
    var c = chart(id);
    if (!c) { return; }
    c.setOption({
      backgroundColor: "transparent",
      grid: { left: 56, right: 16, top: 30, bottom: 28 },
      legend: { top: 0, textStyle: { color: "#cfe3f7", fontSize: 14 } },
      tooltip: { trigger: "axis" },
      xAxis: Object.assign({ type: "category", data: x, boundaryGap: false }, AXIS),
      yAxis: Object.assign({ type: "value", name: unit || "", nameTextStyle: { color: "#9fb3c8" } }, AXIS),
      series: series.map(function (s) {
        return { name: s.name, type: "line", data: s.data, showSymbol: false, smooth: true,
          lineStyle: { width: 3, color: s.color }, itemStyle: { color: s.color }, areaStyle: s.area ? { opacity: 0.15 } : undefined };
      })
    });
  }
  function bars(id, names, values, colour, unit) {
    var c = chart(id);
    if (!c) { return; }
    c.setOption({
      backgroundColor: "transparent",
      grid: { left: 120, right: 24, top: 8, bottom: 24 },
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
      xAxis: Object.assign({ type: "value", name: unit || "" }, AXIS),
      yAxis: Object.assign({ type: "category", data: names }, AXIS),
      series: [{ type: "bar", data: values, itemStyle: { color: colour }, label: { show: true, position: "right", color: "#e6f1ff" } }]
    });
  }

  // --- the map ------------------------------------------------------------------------------------------
  var mapReady = false;
  function drawMap(d) {
    var c = chart("c-map");
    if (!c) { return; }
    if (!mapReady) {
      window.echarts.registerMap("city", shapes);
      c.on("click", function (e) { if (e.data && e.data.name) { pick(e.data.name); } });
      mapReady = true;
    }
    var measure = d.map[state.measure] || {};
    var data = Object.keys(d.districts).map(function (code) {
      var n = measure[code];
      return { name: code, value: n === null || n === undefined ? 0 : n, hidden: n === null, label: d.districts[code] };
    });
    var max = Math.max(10, Math.max.apply(null, data.map(function (x) { return x.value; })));
    c.setOption({
      backgroundColor: "transparent",
      tooltip: { formatter: function (p) {
        var x = p.data || {};
        return (x.label || p.name) + "<br>" + L.measure[state.measure] + ": " + (x.hidden ? L.text.hidden : numbers.format(x.value || 0));
      } },
      visualMap: { min: 0, max: max, calculable: false, left: 10, bottom: 10, textStyle: { color: "#cfe3f7" },
        inRange: { color: state.measure === "scans" || state.measure === "resumed" ? ["#0b3d5c", "#22d3ee"] : ["#3b1d1d", "#ef4444"] } },
      series: [{ type: "map", map: "city", nameProperty: "code", roam: false, selectedMode: "single",
        label: { show: true, color: "#fff", fontSize: 15, formatter: function (p) { return d.districts[p.name] || p.name; } },
        itemStyle: { borderColor: "#7dd3fc", borderWidth: 1.2 },
        emphasis: { label: { color: "#fff" }, itemStyle: { areaColor: "#0ea5e9" } },
        data: data.map(function (x) { return { name: x.name, value: x.value, hidden: x.hidden, label: x.label,
          selected: x.name === state.district }; }) }]
    });
  }
  function pick(code) {
    state.district = state.district === code ? null : code;
    var note = document.getElementById("district-filter");
    if (state.district) {
      note.hidden = false;
      note.querySelector("span").textContent = L.text.streets_of + " " + (state.last ? state.last.districts[code] : code);
      fetch(base + "/districts/" + encodeURIComponent(code), { cache: "no-store", credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (t) { state.streets = t; if (state.last) { render(state.last); } });
    } else {
      note.hidden = true;
      state.streets = null;
    }
    if (state.last) { render(state.last); }
  }
  document.getElementById("clear-district").addEventListener("click", function () { if (state.district) { pick(state.district); } });

  // --- panels -------------------------------------------------------------------------------------------
  function renderTotals(d) {
    d.totals.forEach(function (t) {
      var el = stage.querySelector('[data-figure="' + t.key + '"]');
      var ref = stage.querySelector('[data-reference="' + t.key + '"]');
      if (el) { show(el, t.value); }
      if (ref) { ref.textContent = t.reference ? numbers.format(t.reference) : ""; }
    });
  }
  function renderGovernance(d) {
    value("gov.tables", d.governance.tables);
    value("gov.problems", d.governance.problems_open);
    value("gov.conflicts", d.governance.conflicts_open);
    bars("c-quality", d.governance.quality.map(function (q) { return q.department; }),
      d.governance.quality.map(function (q) { return q.score; }), "#34d399");
  }
  function renderHealth(d) {
    var h = d.health;
    value("hc.green", h.colours.green);
    value("hc.yellow", h.colours.yellow);
    value("hc.red", h.colours.red);
    value("hc.scans_today", h.scans_today);
    value("hc.traces_open", h.traces_open);
    value("hc.positives_today", h.positives_today);
    value("hc.risk_areas", h.risk_areas);
    value("hc.resumed", h.enterprises.approved || 0);
    var scans = state.district ? (h.scans_by_district[state.district] || []) : h.scans_per_hour;
    var label = state.district ? d.districts[state.district] : L.text.all_city;
    line("c-scans", hours(scans.length, 60, d.at), [{ name: L.measure.scans + " · " + label, data: scans, color: "#22d3ee", area: true }]);
    line("c-colours", hours(h.trend.yellow.length, 60, d.at), [
      { name: L.colour.yellow, data: h.trend.yellow, color: "#f5c518" },
      { name: L.colour.red, data: h.trend.red, color: "#ef4444" }]);
  }
  function renderFlows(d) {
    var f = d.flows;
    value("flow.ingest", f.ingest.rows_per_second, " /s");
    value("flow.calls", f.gateway.calls_per_second, " /s");
    value("flow.errors", f.gateway.errors_per_second, " /s");
    value("flow.p95", f.gateway.p95 === null ? null : f.gateway.p95, " ms");
    value("flow.delivered", f.deliveries.today.delivered || 0);
    value("flow.failed", f.failed_batches.today);
    var x = hours(f.gateway.series.length, d.step_minutes, d.at);
    line("c-flows", x, [
      { name: L.text.calls, data: f.gateway.series, color: "#38bdf8" },
      { name: L.text.errors, data: f.gateway.errors, color: "#f87171" },
      { name: L.text.rows, data: f.ingest.series, color: "#a78bfa" }]);
    var depts = Object.keys(f.ingest.per_department).sort();
    bars("c-departments", depts, depts.map(function (k) { return f.ingest.per_department[k]; }), "#a78bfa", L.text.per_second);
  }
  function renderAlerts(d) {
    var list = document.getElementById("alerts");
    list.textContent = "";
    if (!d.alerts.length) {
      var ok = document.createElement("li");
      ok.className = "ok";
      ok.textContent = L.text.no_alerts;
      list.appendChild(ok);
      return;
    }
    d.alerts.forEach(function (a) {
      var li = document.createElement("li");
      li.className = a.level;
      li.textContent = (L.alert[a.kind] || a.kind) + " · " + numbers.format(a.count) + (a.detail.length ? " · " + a.detail.join("、") : "");
      list.appendChild(li);
    });
  }
  function renderProfile(d) {
    var table = state.district && state.streets ? state.streets : d.profile[state.dimension];
    var names = state.district && state.streets ? L.dimension.street : L.dimension[state.dimension];
    var head = document.querySelector("#profile-table thead");
    var body = document.querySelector("#profile-table tbody");
    head.innerHTML = "";
    body.innerHTML = "";
    if (!table) { return; }
    head.appendChild(tableRow("th", names, table.groups.map(function (g) { return L.group[g]; }), ""));
    table.rows.forEach(function (row) {
      if (table.groups.every(function (g) { return row.cells[g] === 0; })) { return; }
      body.appendChild(tableRow("td", d.districts[row.value] || row.value,
        table.groups.map(function (g) { return cell(row.cells[g]); }), ""));
    });
    body.appendChild(tableRow("td", L.text.total, table.groups.map(function (g) { return cell(table.totals[g]); }), "total"));
  }
  // One row: its label, then one cell per group (numbers right-aligned in the body).
  function tableRow(tag, label, values, className) {
    var tr = document.createElement("tr");
    tr.className = className;
    var first = document.createElement(tag);
    first.textContent = label;
    tr.appendChild(first);
    values.forEach(function (v) {
      var c = document.createElement(tag);
      if (tag === "td") { c.className = "num"; }
      c.textContent = v;
      tr.appendChild(c);
    });
    return tr;
  }
  function render(d) {
    state.last = d;
    renderTotals(d);
    renderGovernance(d);
    renderHealth(d);
    renderFlows(d);
    renderAlerts(d);
    renderProfile(d);
    drawMap(d);
    var at = new Date(d.at).toLocaleTimeString(lang, { timeZone: zone, hour12: false });
    document.getElementById("updated").textContent = L.text.updated + " " + at;
    document.body.setAttribute("data-updated", d.at);
  }

  // --- choices: measures and dimensions, rotating in kiosk mode ------------------------------------------
  function choose(attr, key) {
    Array.prototype.forEach.call(stage.querySelectorAll("[data-" + attr + "]"), function (b) {
      b.classList.toggle("on", b.getAttribute("data-" + attr) === state[key]);
    });
    if (state.last) { render(state.last); }
  }
  stage.addEventListener("click", function (e) {
    var b = e.target.closest("button");
    if (!b) { return; }
    if (b.hasAttribute("data-measure")) { state.measure = b.getAttribute("data-measure"); choose("measure", "measure"); }
    if (b.hasAttribute("data-dimension")) { state.dimension = b.getAttribute("data-dimension"); choose("dimension", "dimension"); }
  });
  function rotate(attr, key) {
    var all = Array.prototype.map.call(stage.querySelectorAll("[data-" + attr + "]"), function (b) { return b.getAttribute("data-" + attr); });
    state[key] = all[(all.indexOf(state[key]) + 1) % all.length];
    choose(attr, key);
  }
  if (kiosk) {
    setInterval(function () { rotate("measure", "measure"); rotate("dimension", "dimension"); },
      Number(stage.getAttribute("data-rotate")) * 1000);
  }

  // --- the live stream ----------------------------------------------------------------------------------
  var conn = document.getElementById("conn");
  var source = null;
  var backoff = 1000;
  function status(name) {
    conn.setAttribute("data-state", name);
    conn.textContent = L.text[name] || name;
  }
  function connect() {
    source = new EventSource(base + "/stream");
    source.addEventListener("open", function () { status("live"); backoff = 1000; });
    source.addEventListener("figures", function (e) { status("live"); render(JSON.parse(e.data)); });
    source.addEventListener("closed", function () { source.close(); status("link_closed"); });
    source.addEventListener("error", function () {
      if (source.readyState === EventSource.CLOSED) {  // refused: ask why before trying again
        fetch(base + "/stream", { method: "GET", cache: "no-store", credentials: "same-origin" }).then(function (r) {
          if (r.status === 401 || r.status === 403 || r.redirected) { status("link_closed"); return; }
          if (r.body && r.body.cancel) { r.body.cancel(); }
          status(r.status === 503 ? "too_many" : "reconnecting");
          setTimeout(connect, r.status === 503 ? 10000 : backoff);
          backoff = Math.min(backoff * 2, 30000);
        }).catch(function () { status("reconnecting"); setTimeout(connect, backoff); backoff = Math.min(backoff * 2, 30000); });
      } else {
        status("reconnecting");  // the browser reconnects by itself
      }
    });
  }
  connect();
})();
