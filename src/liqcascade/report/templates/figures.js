// Draw every figure of the page: the JSON in #figures maps a view key to a plotly figure,
// drawn into the element #fig-<key>. Used inline by the report and as /static/figures.js.
(function () {
  var holder = document.getElementById("figures");
  if (!holder) { return; }
  var figs = JSON.parse(holder.textContent);
  Object.keys(figs).forEach(function (key) {
    var el = document.getElementById("fig-" + key);
    if (el) { Plotly.newPlot(el, figs[key].data, figs[key].layout, {responsive: true, displaylogo: false}); }
  });
})();
