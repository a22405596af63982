/* howfast HTML report: builds the layer tables and the charts from the page's JSON data.
 * Text goes into the page with textContent only (never innerHTML), so names show as written. */
(function () {
  "use strict";
  var timings = (window.howfastTimings = { start: performance.now() });
  var data = JSON.parse(document.getElementById("howfast-data").textContent);

  function el(tag, props, text) {
    var node = document.createElement(tag);
    if (props) {
      Object.keys(props).forEach(function (key) {
        if (key === "className") node.className = props[key];
        else node.setAttribute(key, props[key]);
      });
    }
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function buildTable(spec, host) {
    var cols = spec.columns, rows = spec.rows, n = rows.length;
    var children = rows.map(function () { return []; });
    var roots = [];
    rows.forEach(function (r, i) { if (r.p >= 0 && r.p < n) children[r.p].push(i); else roots.push(i); });
    var collapsed = new Uint8Array(n);
    if (spec.collapse_depth !== null && spec.collapse_depth !== undefined) {
      rows.forEach(function (r, i) { if (r.d >= spec.collapse_depth && children[i].length) collapsed[i] = 1; });
    }
    var state = { sort: -1, dir: 1, flat: false, type: "", text: "" };
    var lowerNames = rows.map(function (r) { return (r.n || "(model)").toLowerCase(); });
    var lowerTypes = rows.map(function (r) { return String(r.t).toLowerCase(); });

    // Controls
    var controls = el("div", { className: "controls" });
    var search = el("input", { type: "search", placeholder: "filter: name or type contains", "aria-label": "filter layers by name or type" });
    var typeSelect = el("select", { "aria-label": "filter layers by module type", className: "type-filter" });
    typeSelect.appendChild(el("option", { value: "" }, "all module types"));
    spec.types.forEach(function (t) { typeSelect.appendChild(el("option", { value: t }, t)); });
    var flatLabel = el("label");
    var flatBox = el("input", { type: "checkbox", className: "flat-toggle" });
    flatLabel.appendChild(flatBox);
    flatLabel.appendChild(document.createTextNode(" flat list"));
    var expandAll = el("button", { type: "button", className: "expand-all" }, "expand all");
    var collapseAll = el("button", { type: "button", className: "collapse-all" }, "collapse all");
    var treeOrder = el("button", { type: "button", className: "tree-order" }, "tree order");
    var count = el("span", { className: "count" });
    [search, typeSelect, flatLabel, expandAll, collapseAll, treeOrder, count].forEach(function (c) { controls.appendChild(c); });

    // Table
    var wrap = el("div", { className: "table-wrap" });
    var table = el("table", { className: "layers" });
    var thead = el("thead"), headRow = el("tr");
    var ths = cols.map(function (c, j) {
      var th = el("th", { scope: "col", className: c.num ? "num" : "text", "data-key": c.key }, c.title);
      if (c.tip) th.setAttribute("title", c.tip);
      th.addEventListener("click", function () { sortBy(j); });
      headRow.appendChild(th);
      return th;
    });
    thead.appendChild(headRow);
    table.appendChild(thead);
    var tbody = el("tbody");
    table.appendChild(tbody);
    wrap.appendChild(table);
    var toggles = [];
    var trs = rows.map(function (r, i) {
      var tr = el("tr", { className: "depth-" + Math.min(r.d, 9), "data-index": String(i), "data-depth": String(r.d) });
      if (r.hot) r.hot.forEach(function (h) { tr.classList.add(h.indexOf("MACs") === 0 ? "hot-macs" : "hot-bytes"); });
      cols.forEach(function (c, j) {
        var td = el("td", { className: c.num ? "num" : "text" });
        if (j === 0) {
          td.className = "text name";
          td.style.paddingLeft = (4 + 14 * r.d) + "px";
          if (children[i].length) {
            var b = el("button", { type: "button", className: "toggle", "aria-label": "fold or unfold submodules" });
            b.addEventListener("click", function (ev) { ev.stopPropagation(); collapsed[i] = collapsed[i] ? 0 : 1; update(); });
            td.appendChild(b);
            toggles[i] = b;
          } else {
            td.appendChild(el("span", { className: "toggle-spacer" }));
          }
          td.appendChild(el("span", { className: "layer-name" }, r.h[j]));
          if (r.hot) r.hot.forEach(function (h) {
            td.appendChild(el("span", { className: "badge " + (h.indexOf("MACs") === 0 ? "macs" : "bytes") }, h));
          });
        } else {
          td.textContent = r.h[j];
          if (c.num && typeof r.v[j] === "number") td.setAttribute("title", r.v[j].toLocaleString("en-US"));
        }
        tr.appendChild(td);
      });
      return tr;
    });

    function compare(a, b) {
      if (state.sort < 0) return a - b;
      var va = rows[a].v[state.sort], vb = rows[b].v[state.sort];
      if (va === null || va === undefined) va = cols[state.sort].num ? -Infinity : "";
      if (vb === null || vb === undefined) vb = cols[state.sort].num ? -Infinity : "";
      var c = cols[state.sort].num ? (va - vb) : String(va).localeCompare(String(vb));
      return c ? state.dir * c : a - b;
    }

    function treeOrderList() {
      var out = [];
      var stack = roots.slice().sort(compare).reverse();
      while (stack.length) {
        var i = stack.pop();
        out.push(i);
        var kids = children[i].slice().sort(compare);
        for (var k = kids.length - 1; k >= 0; k--) stack.push(kids[k]);
      }
      return out;
    }

    function update() {
      var filtering = state.type !== "" || state.text !== "";
      var match = new Uint8Array(n), context = new Uint8Array(n);
      for (var i = 0; i < n; i++) {
        match[i] = (!state.type || rows[i].t === state.type) &&
          (!state.text || lowerNames[i].indexOf(state.text) >= 0 || lowerTypes[i].indexOf(state.text) >= 0) ? 1 : 0;
      }
      var order;
      if (state.flat) {
        order = [];
        for (var f = 0; f < n; f++) order.push(f);
        order.sort(compare);
      } else {
        order = treeOrderList();
        if (filtering) {
          for (var m = 0; m < n; m++) {
            if (!match[m]) continue;
            for (var p = rows[m].p; p >= 0 && !match[p] && !context[p]; p = rows[p].p) context[p] = 1;
          }
        }
      }
      var hidden = new Uint8Array(n);
      if (!state.flat && !filtering) {
        // A row is hidden when any ancestor is collapsed (order is a pre-order walk: parents first).
        order.forEach(function (i) {
          var p = rows[i].p;
          hidden[i] = p >= 0 && (hidden[p] || collapsed[p]) ? 1 : 0;
        });
      }
      var shown = 0;
      var frag = document.createDocumentFragment();
      order.forEach(function (i) {
        var tr = trs[i];
        var visible = state.flat ? (!filtering || match[i]) : (filtering ? (match[i] || context[i]) : !hidden[i]);
        tr.hidden = !visible;
        tr.classList.toggle("context", !!context[i] && !match[i]);
        if (visible) shown++;
        frag.appendChild(tr);
      });
      tbody.appendChild(frag);
      toggles.forEach(function (b, i) {
        if (!b) return;
        b.textContent = collapsed[i] ? "\u25B8" : "\u25BE";
        b.setAttribute("aria-expanded", collapsed[i] ? "false" : "true");
      });
      ths.forEach(function (th, j) {
        if (j === state.sort) th.setAttribute("aria-sort", state.dir > 0 ? "ascending" : "descending");
        else th.removeAttribute("aria-sort");
      });
      table.classList.toggle("flat", state.flat || filtering);
      count.textContent = "showing " + shown + " of " + n + " layers";
    }

    function sortBy(j) {
      if (state.sort === j) state.dir = -state.dir;
      else { state.sort = j; state.dir = cols[j].num ? -1 : 1; }
      update();
    }

    search.addEventListener("input", function () { state.text = search.value.trim().toLowerCase(); update(); });
    typeSelect.addEventListener("change", function () { state.type = typeSelect.value; update(); });
    flatBox.addEventListener("change", function () { state.flat = flatBox.checked; update(); });
    expandAll.addEventListener("click", function () { collapsed.fill(0); update(); });
    collapseAll.addEventListener("click", function () {
      for (var i = 0; i < n; i++) collapsed[i] = children[i].length && rows[i].d >= 1 ? 1 : 0;
      update();
    });
    treeOrder.addEventListener("click", function () { state.sort = -1; state.dir = 1; state.flat = false; flatBox.checked = false; update(); });

    // The heaviest leaf layers, one button each: unfolds the row's ancestors and scrolls to it.
    var hotList = el("div", { className: "hot-list" });
    var hotRows = [];
    rows.forEach(function (r, i) { if (r.hot) hotRows.push(i); });
    if (hotRows.length) {
      hotList.appendChild(el("span", { className: "muted" }, "Heaviest leaf layers: "));
      hotRows.sort(function (a, b) { return rank(a) - rank(b); });
      hotRows.forEach(function (i) {
        var b = el("button", { type: "button", className: "reveal", "data-index": String(i) },
                   (rows[i].n || "(model)") + " (" + rows[i].hot.join(", ") + ")");
        b.addEventListener("click", function () { reveal(i); });
        hotList.appendChild(b);
      });
    }

    function rank(i) {
      var best = 1e9;
      rows[i].hot.forEach(function (h) { var k = parseInt(h.split("#")[1], 10) * 2 + (h.indexOf("MACs") === 0 ? 0 : 1); if (k < best) best = k; });
      return best;
    }

    function reveal(i) {
      for (var p = rows[i].p; p >= 0; p = rows[p].p) collapsed[p] = 0;
      if (state.type || state.text) {
        state.type = ""; state.text = ""; typeSelect.value = ""; search.value = "";
      }
      update();
      trs[i].scrollIntoView({ block: "center" });
      trs[i].classList.add("flash");
      setTimeout(function () { trs[i].classList.remove("flash"); }, 1500);
    }

    host.appendChild(controls);
    host.appendChild(hotList);
    host.appendChild(wrap);
    update();
  }

  data.tables.forEach(function (spec) {
    var host = document.getElementById(spec.container);
    if (host) buildTable(spec, host);
  });
  timings.table = performance.now();

  // The charts' configuration: nothing on the page may make a network request, even on a click.
  // Plotly's toolbar can share a chart to Chart Studio (sendDataToCloud in plotly.js 1.x-2.x,
  // sendChartToCloud in 3.x+, "Edit in Chart Studio" via showLink/showEditInChartStudio) and its logo
  // links to plot.ly: all are turned off, and the cloud address emptied, so that even a button
  // left over by another version of plotly has nowhere to go. "Download plot as a PNG" (toImage)
  // draws the image in the page and saves it from a data: URL: local, kept.
  var CHART_CONFIG = {
    responsive: true,
    displaylogo: false,
    showLink: false,
    linkText: "",
    showSendToCloud: false,
    showEditInChartStudio: false,
    plotlyServerURL: "",
    modeBarButtonsToRemove: ["sendDataToCloud", "sendChartToCloud", "editInChartStudio", "downloadJson"]
  };
  window.howfastChartConfig = CHART_CONFIG;

  // Called by the page once plotly.js (inlined after this script) has been parsed.
  window.howfastDrawCharts = function () {
    timings.plotlyLoaded = performance.now();
    var pending = [];
    var figures = data.figures;
    figures.order.forEach(function (name) {
      var fig = figures[name];
      var div = document.getElementById("chart-" + name);
      if (!fig || !div) return;
      if (!window.Plotly) {
        div.textContent = "Charts are unavailable: plotly.js did not load.";
        return;
      }
      var config = Object.assign({}, CHART_CONFIG, { toImageButtonOptions: { format: "png", filename: "howfast-" + name } });
      pending.push(window.Plotly.newPlot(div, fig.data, fig.layout, config));
    });
    timings.chartsCalled = performance.now();
    return Promise.all(pending).then(function () {
      timings.charts = performance.now();
      document.documentElement.setAttribute("data-howfast-ready", "1");
    }, function (err) {
      document.documentElement.setAttribute("data-howfast-ready", "error");
      throw err;
    });
  };
})();
