/* Outcome Hub: draw every chart of the page from its JSON, with the local plotly.js. No network. */
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
  var plots = document.querySelectorAll("[data-figure]");
  for (var i = 0; i < plots.length; i += 1) { draw(plots[i]); }
}());
