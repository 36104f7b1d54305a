// The study report's plots, drawn by Chart.js (vendored) from the numbers in #plot-data
// (report/study_plots.py says what each kind holds). Text reaches the canvas only, never the
// page's markup. Colours: matplotlib's tab10, viridis and Blues, as the run report's PNGs use.
(function () {
  "use strict";
  const plots = JSON.parse(document.getElementById("plot-data").textContent);
  Chart.defaults.animation = false;
  Chart.defaults.maintainAspectRatio = false;
  Chart.defaults.font.size = 12;
  const TAB10 = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd"];
  const BLUE = TAB10[0], RED = TAB10[3], GREY = "rgba(128, 128, 128, 0.45)";
  const VIRIDIS = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];
  const BLUES = [[222, 235, 247], [107, 174, 214], [8, 48, 107]];

  // A colour map's colour at t in [0, 1], linear between its stops.
  function colour(stops, t) {
    const at = Math.min(Math.max(t, 0), 1) * (stops.length - 1);
    const i = Math.min(Math.floor(at), stops.length - 2), f = at - i;
    const rgb = stops[i].map((c, k) => Math.round(c + f * (stops[i + 1][k] - c)));
    return `rgb(${rgb.join(", ")})`;
  }
  const num = (v) => (typeof v === "number" ? Number(v.toPrecision(4)).toString() : String(v));
  const axis = (text, extra) => Object.assign({title: {display: true, text: text}}, extra || {});
  const subtitle = (text) => ({display: true, text: text});
  // A log axis labelled at 1, 2 and 5 of each decade (at 1 only over more than two decades):
  // Chart.js's default labels run into each other.
  function logTicks(values) {
    const subs = Math.log10(Math.max(...values) / Math.min(...values)) > 2 ? [1] : [1, 2, 5];
    return {autoSkip: false, maxRotation: 0, callback: (v) => {
      const m = v / 10 ** Math.floor(Math.log10(v) + 1e-9);
      return subs.some((k) => Math.abs(m - k) < 1e-6) ? num(v) : "";
    }};
  }
  // points are [x, y, trial]; the tooltip names the trial
  const xy = (points) => points.map((p) => ({x: p[0], y: p[1], trial: p[2]}));
  const trialTip = {callbacks: {label: (c) => `trial ${c.raw.trial}: ${num(c.raw.y)}`}};

  const draw = {
    history(p) {
      const sets = [{label: p.name, data: xy(p.points), backgroundColor: BLUE, borderColor: BLUE}];
      if (p.best) {
        sets.push({label: "best value", data: p.best.map((b) => ({x: b[0], y: b[1]})), showLine: true,
                   stepped: "after", pointRadius: 0, borderColor: RED, backgroundColor: RED});
      }
      return {type: "scatter", data: {datasets: sets},
              options: {scales: {x: axis("trial"), y: axis(p.name)},
                        plugins: {tooltip: trialTip}}};
    },
    importance(p) {
      return {type: "bar",
              data: {labels: p.keys.map((k, i) => `${k} (${p.shares[i].toFixed(2)})`),
                     datasets: [{label: "importance", data: p.shares, backgroundColor: BLUE}]},
              options: {indexAxis: "y", scales: {x: axis(`importance for ${p.name}`, {min: 0})},
                        plugins: {subtitle: subtitle("fANOVA (Optuna), seed 0"), legend: {display: false}}}};
    },
    slice(p) {
      const shade = (q) => colour(BLUES, 0.25 + 0.75 * q[2] / Math.max(p.last_trial, 1));
      // a category at its index, labelled with its name; a log-sampled value on a log axis
      const x = p.categories
        ? axis(p.param, {min: -0.5, max: p.categories.length - 0.5,
                         afterBuildTicks: (scale) => { scale.ticks = p.categories.map((_, i) => ({value: i})); },
                         ticks: {autoSkip: false, callback: (v) => p.categories[v] ?? ""}})
        : axis(p.param, p.log ? {type: "logarithmic", ticks: logTicks(p.points.map((q) => q[0]))} : {});
      return {type: "scatter",
              data: {datasets: [{label: p.name, data: xy(p.points), pointRadius: 4,
                                 backgroundColor: p.points.map(shade), borderColor: "#666",
                                 borderWidth: 0.5}]},
              options: {scales: {x: x, y: axis(p.name)},
                        plugins: {subtitle: subtitle("a point per complete trial; darker: a later trial"),
                                  legend: {display: false}, tooltip: trialTip}}};
    },
    parallel(p) {
      const lo = Math.min(...p.scores), hi = Math.max(...p.scores);
      const sets = p.rows.map((row, i) => ({
        label: `${p.name} ${num(p.scores[i])}`, data: row.map((y, x) => ({x: x, y: y})),
        borderColor: colour(VIRIDIS, (p.scores[i] - lo) / (hi - lo || 1)), borderWidth: 1,
        pointRadius: 0, spanGaps: false}));
      // the axes themselves, each labelled with its range at its ends
      const ends = {id: "ends", afterDatasetsDraw(chart) {
        const ctx = chart.ctx, x = chart.scales.x, y = chart.scales.y;
        ctx.save();
        ctx.strokeStyle = "#444"; ctx.fillStyle = "#222"; ctx.textAlign = "center";
        ctx.font = `${Chart.defaults.font.size}px ${Chart.defaults.font.family}`;
        p.ends.forEach((end, i) => {
          const px = x.getPixelForValue(i);
          ctx.beginPath(); ctx.moveTo(px, y.getPixelForValue(0)); ctx.lineTo(px, y.getPixelForValue(1));
          ctx.stroke();
          ctx.textBaseline = "top"; ctx.fillText(end[0], px, y.getPixelForValue(-0.03));
          ctx.textBaseline = "bottom"; ctx.fillText(end[1], px, y.getPixelForValue(1.03));
        });
        ctx.restore();
      }};
      // a dotted key on one line per part ("train", "optimizer", "lr"): many axes side by side
      // keep their names apart, unrotated
      const label = (v) => (p.axes[v] === undefined ? "" : p.axes[v].split("."));
      return {type: "line", data: {datasets: sets}, plugins: [ends],
              options: {scales: {x: {type: "linear", min: -0.5, max: p.axes.length - 0.5,
                                     afterBuildTicks: (scale) => { scale.ticks = p.axes.map((_, i) => ({value: i})); },
                                     ticks: {callback: label, maxRotation: 0, autoSkip: false},
                                     grid: {display: false}},
                                 y: {min: -0.15, max: 1.15, display: false}},
                        plugins: {subtitle: subtitle(`a line per complete trial, coloured by ${p.name}: ` +
                                                   `dark ${num(lo)}, yellow ${num(hi)}`),
                                  legend: {display: false},
                                  tooltip: {callbacks: {title: () => "", label: (c) => c.dataset.label}}}}};
    },
    curves(p) {
      // every trial in one grey dataset, a gap (y null) between trials
      const every = p.every.flatMap((c) => [...c.map((q) => ({x: q[0], y: q[1]})), {x: c[c.length - 1][0], y: null}]);
      const sets = [{label: `every trial (${p.every.length})`, data: every, showLine: true, spanGaps: false,
                     pointRadius: 0, borderWidth: 1, borderColor: GREY, backgroundColor: GREY}];
      p.top.forEach((t, i) => sets.push({label: t.label, data: xy(t.points), showLine: true,
                                          pointRadius: t.points.length < 40 ? 2 : 0,
                                          borderColor: TAB10[i % TAB10.length],
                                          backgroundColor: TAB10[i % TAB10.length]}));
      return {type: "scatter", data: {datasets: sets},
              options: {scales: {x: axis("epoch"), y: axis(p.name)},
                        plugins: {subtitle: subtitle(`every trial's reported values, the top ${p.top.length} in colour`)}}};
    },
    pareto(p) {
      return {type: "scatter",
              data: {datasets: [{label: "trial", data: xy(p.others), backgroundColor: GREY},
                                {label: "Pareto front", data: xy(p.front), backgroundColor: RED}]},
              options: {scales: {x: axis(p.names[0]), y: axis(p.names[1])},
                        plugins: {tooltip: {callbacks: {label: (c) => `trial ${c.raw.trial}: ${num(c.raw.x)}, ${num(c.raw.y)}`}}}}};
    },
  };

  for (const [id, plot] of Object.entries(plots)) {
    const canvas = document.getElementById(id);
    new Chart(canvas, draw[plot.kind](plot));
  }
})();
