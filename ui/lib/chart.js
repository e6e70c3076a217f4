// A small inline-SVG line chart. Each series has its own dash pattern as well as its colour,
// and the figures are also given as text, so it reads without colour.

const SVG = "http://www.w3.org/2000/svg";

function svg(tag, attrs = {}) {
  const el = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) el.setAttribute(key, String(value));
  return el;
}

/**
 * `series`: `[{ name, values: [number], className }]`, all of one length; `labels`: the x labels
 * of the first and last points.
 */
export function lineChart(title, series, labels) {
  const width = 600;
  const height = 160;
  const pad = 28;
  const count = Math.max(1, ...series.map((s) => s.values.length));
  const top = Math.max(1, ...series.flatMap((s) => s.values));
  const x = (i) => pad + (i * (width - 2 * pad)) / Math.max(1, count - 1);
  const y = (v) => height - pad - (v * (height - 2 * pad)) / top;
  const root = svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", class: "chart" });
  const titleEl = svg("title");
  titleEl.textContent = title;
  root.append(titleEl);
  const desc = svg("desc");
  desc.textContent = series.map((s) => `${s.name}: ${s.values.reduce((a, b) => a + b, 0)} in all`).join("; ");
  root.append(desc);
  root.append(svg("line", { x1: pad, y1: height - pad, x2: width - pad, y2: height - pad, class: "axis" }));
  root.append(svg("line", { x1: pad, y1: pad, x2: pad, y2: height - pad, class: "axis" }));
  const label = (text, attrs) => {
    const el = svg("text", attrs);
    el.textContent = text;
    root.append(el);
  };
  label(String(top), { x: pad - 4, y: pad + 4, "text-anchor": "end", class: "tick" });
  label("0", { x: pad - 4, y: height - pad + 4, "text-anchor": "end", class: "tick" });
  label(labels[0] ?? "", { x: pad, y: height - 8, class: "tick" });
  label(labels[1] ?? "", { x: width - pad, y: height - 8, "text-anchor": "end", class: "tick" });
  for (const s of series) {
    const points = s.values.map((v, i) => `${x(i)},${y(v)}`).join(" ");
    root.append(svg("polyline", { points, class: `line ${s.className}`, fill: "none" }));
  }
  return root;
}
