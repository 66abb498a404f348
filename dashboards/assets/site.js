/* Outcome Hub: draw every chart of the page from its JSON with the local plotly.js, follow the
   period picker, and filter the NGO index. Everything works from file://; no network. */
(function () {
  "use strict";
  function draw(el) {
    var source = document.getElementById(el.getAttribute("data-figure"));
    if (!source) { return; }
    var spec = JSON.parse(source.textContent);
    Plotly.newPlot(el, spec.data, spec.layout, spec.config).then(function (gd) {
      if (!spec.links) { return; }
      gd.on("plotly_click", function (event) {
        var point = event && event.points && event.points[0];
        var href = point && point.customdata && point.customdata[2];
        if (href) { window.location.href = href; }
      });
    });
  }
  if (typeof Plotly !== "undefined") {
    var plots = document.querySelectorAll("[data-figure]");
    for (var i = 0; i < plots.length; i += 1) { draw(plots[i]); }
  }

  /* The period picker: assets/periods.js lists every released period (one file per build, so
     no earlier page changes when a period is added). Each option is this page's relative address
     in that period, or that period's home where it has no such page (a budget page of a later
     period). */
  var form = document.getElementById("period-form");
  var picker = document.getElementById("period-picker");
  var released = window.outcomeHubPeriods || [];
  if (form && picker && released.length > 1) {
    var up = form.getAttribute("data-top") || "";
    var path = form.getAttribute("data-path") || "index.html";
    var current = form.getAttribute("data-period");
    var about = /^steward\/budgets-(\d{4}-Q[1-4])-/.exec(path);
    for (var p = released.length - 1; p >= 0; p -= 1) {
      var option = document.createElement("option");
      option.value = up + released[p] + "/" + (about && about[1] > released[p] ? "index.html" : path);
      option.textContent = released[p] + (p === released.length - 1 ? " (latest)" : "");
      option.selected = released[p] === current;
      picker.appendChild(option);
    }
    form.removeAttribute("hidden");
    picker.addEventListener("change", function () {
      if (picker.value) { window.location.href = picker.value; }
    });
  }

  /* The NGO index: rows come as JSON (compact at 2,000 NGOs); the filter matches every column. */
  var data = document.getElementById("ngo-data");
  var body = document.getElementById("ngo-rows");
  var filter = document.getElementById("ngo-filter");
  var count = document.getElementById("ngo-count");
  if (!data || !body || !filter) { return; }
  var index = JSON.parse(data.textContent);
  var rows = index.rows.map(function (r) {
    var programmes = r[2].map(function (k) { return index.programmes[k]; }).join(", ");
    var regions = r[3].map(function (k) { return index.regions[k]; }).join(", ");
    var status = index.statuses[r[5]];
    return {
      cells: [r[0], programmes, regions, r[4], status],
      href: r[1] ? index.prefix + r[1] + ".html" : "",
      text: [r[0], r[1], programmes, regions, status].join(" ").toLowerCase()
    };
  });
  function cell(tag, text) {
    var el = document.createElement(tag);
    el.textContent = text;
    return el;
  }
  function show() {
    var words = filter.value.toLowerCase().split(/\s+/).filter(Boolean);
    var shown = 0;
    var fragment = document.createDocumentFragment();
    rows.forEach(function (row) {
      for (var w = 0; w < words.length; w += 1) {
        if (row.text.indexOf(words[w]) < 0) { return; }
      }
      shown += 1;
      var tr = document.createElement("tr");
      var th = document.createElement("th");
      th.setAttribute("scope", "row");
      if (row.href) {
        var a = cell("a", row.cells[0]);
        a.setAttribute("href", row.href);
        th.appendChild(a);
      } else {
        th.textContent = row.cells[0];
      }
      tr.appendChild(th);
      for (var c = 1; c < row.cells.length; c += 1) { tr.appendChild(cell("td", row.cells[c])); }
      tr.className = "status-" + row.cells[4].replace(/\s+/g, "-");
      fragment.appendChild(tr);
    });
    body.replaceChildren(fragment);
    if (count) { count.textContent = shown + " of " + rows.length + " NGOs shown"; }
  }
  filter.addEventListener("input", show);
  filter.removeAttribute("hidden");
  show();
}());
