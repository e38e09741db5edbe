// Bar charts drawn as inline SVG (no chart library, nothing from a CDN). Each chart is a figure
// with a text alternative: the SVG has a title and description, and the numbers are in a table.
import { html } from "./html.js";

function niceMax(value) {
  if (value <= 0) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  const scaled = value / power;
  const step = scaled <= 1 ? 1 : scaled <= 2 ? 2 : scaled <= 5 ? 5 : 10;
  return step * power;
}

/**
 * Vertical bars, one per `data` item ({label, value}), with a y axis of 4 ticks. The SVG scales
 * to its box: give `width` close to the box's width in pixels so its text keeps its size.
 * `format(value)` formats numbers; `id` names the figure (for its caption).
 */
export function BarChart({ id, title, data, format = String, width = 600, height = 220, valueLabel = "Value" }) {
  const margin = { top: 12, right: 12, bottom: 48, left: 72 };
  const plotWidth = width - margin.left - margin.right;
  const plotHeight = height - margin.top - margin.bottom;
  const max = niceMax(Math.max(0, ...data.map((item) => item.value)));
  const band = data.length ? plotWidth / data.length : plotWidth;
  const barWidth = Math.max(2, Math.min(48, band * 0.7));
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((fraction) => max * fraction);
  const labelEvery = Math.max(1, Math.ceil(data.length / 12));
  const total = data.reduce((sum, item) => sum + item.value, 0);
  const top = data.reduce((best, item) => (item.value > (best?.value ?? -1) ? item : best), null);
  const description = data.length
    ? `${data.length} bars; total ${format(total)}${top ? `; highest ${top.label} at ${format(top.value)}` : ""}.`
    : "No data.";

  return html`<figure class="chart" aria-labelledby=${`${id}-caption`}>
    <figcaption id=${`${id}-caption`}>${title}</figcaption>
    ${data.length === 0
      ? html`<p class="empty">No usage in this period.</p>`
      : html`<svg viewBox=${`0 0 ${width} ${height}`} role="img" aria-labelledby=${`${id}-title ${id}-desc`} class="bars" data-chart=${id}>
          <title id=${`${id}-title`}>${title}</title>
          <desc id=${`${id}-desc`}>${description}</desc>
          <g transform=${`translate(${margin.left},${margin.top})`}>
            ${ticks.map((tick) => {
              const y = plotHeight - (tick / max) * plotHeight;
              return html`<g class="tick">
                <line x1="0" x2=${plotWidth} y1=${y} y2=${y} />
                <text x="-8" y=${y} dy="0.32em" text-anchor="end">${format(tick)}</text>
              </g>`;
            })}
            ${data.map((item, index) => {
              const barHeight = (item.value / max) * plotHeight;
              const x = index * band + (band - barWidth) / 2;
              return html`<g class="bar">
                <rect x=${x} y=${plotHeight - barHeight} width=${barWidth} height=${Math.max(barHeight, item.value > 0 ? 1 : 0)}>
                  <title>${item.label}: ${format(item.value)}</title>
                </rect>
                ${index % labelEvery === 0
                  ? html`<text class="x-label" x=${x + barWidth / 2} y=${plotHeight + 16} text-anchor="middle">${item.short || item.label}</text>`
                  : null}
              </g>`;
            })}
            <line class="axis" x1="0" x2=${plotWidth} y1=${plotHeight} y2=${plotHeight} />
          </g>
        </svg>`}
    ${data.length
      ? html`<details class="chart-data">
          <summary>Data table<span class="visually-hidden">: ${title}</span></summary>
          <table>
            <thead><tr><th scope="col">${data[0].kind || "Label"}</th><th scope="col" class="num">${valueLabel}</th></tr></thead>
            <tbody>${data.map((item) => html`<tr><th scope="row">${item.label}</th><td class="num">${format(item.value)}</td></tr>`)}</tbody>
          </table>
        </details>`
      : null}
  </figure>`;
}
