// A labelled line-and-point chart as standalone SVG, both axes logarithmic
// (KL divergence spans decades between 2 and 8 bits per weight, and 16-bit
// types would squeeze the low-bit end of a linear x axis): one series per
// line, points in x order, the first series' points named (labels placed so
// they do not overlap). Hand-written, as svg.ts.

export interface ScatterPoint {
  x: number;
  y: number;
  label: string;
}

export interface ScatterSeries {
  name: string;
  color: string;
  points: ScatterPoint[];
}

export interface ScatterChart {
  title: string;
  subtitle?: string;
  xLabel: string;
  yLabel: string;
  series: ScatterSeries[];
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** x ticks of a log axis: 1, 2, 3, 4, 5, 6, 8 times powers of ten within [lo, hi]. */
function xTicks(lo: number, hi: number): number[] {
  const out: number[] = [];
  for (let d = Math.floor(Math.log10(lo)); d <= Math.ceil(Math.log10(hi)); d++) {
    for (const m of [1, 2, 3, 4, 5, 6, 8]) {
      const v = m * 10 ** d;
      if (v >= lo * 0.999 && v <= hi * 1.001) out.push(v);
    }
  }
  return out;
}

interface Box { x: number; y: number; w: number; h: number }
const overlaps = (a: Box, b: Box) => a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;

/** y must be positive (log axis); points at y <= 0 are drawn on the bottom edge. */
export function scatterChartSVG(c: ScatterChart): string {
  const width = 760;
  const left = 80;
  const right = 30;
  const top = c.subtitle ? 74 : 56;
  const plotH = 360;
  const plotW = width - left - right;
  const bottom = 56;
  const legendH = 24;
  const height = top + plotH + bottom + legendH;

  const pts = c.series.flatMap((s) => s.points);
  const xs = pts.map((p) => p.x).filter((x) => x > 0 && Number.isFinite(x));
  const ys = pts.map((p) => p.y).filter((y) => y > 0 && Number.isFinite(y));
  const xMin = xs.length ? Math.floor(Math.min(...xs)) || Math.min(...xs) : 1;
  const xMax = Math.max(xMin * 2, xs.length ? Math.ceil(Math.max(...xs)) : 2);
  const dMin = ys.length ? Math.floor(Math.log10(Math.min(...ys))) : -3;
  const dMax = Math.max(dMin + 1, ys.length ? Math.ceil(Math.log10(Math.max(...ys))) : 0);
  const X = (v: number) => left + (Math.log(Math.max(v, xMin) / xMin) / Math.log(xMax / xMin)) * plotW;
  const Y = (v: number) => top + plotH - ((Math.log10(v > 0 ? v : 10 ** dMin) - dMin) / (dMax - dMin)) * plotH;

  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, -apple-system, 'Segoe UI', sans-serif" font-size="12">`);
  out.push('<rect width="100%" height="100%" fill="#fff"/>');
  out.push(`<text x="${width / 2}" y="24" text-anchor="middle" font-size="16" font-weight="600">${esc(c.title)}</text>`);
  if (c.subtitle) out.push(`<text x="${width / 2}" y="44" text-anchor="middle" fill="#555">${esc(c.subtitle)}</text>`);

  for (let d = dMin; d <= dMax; d++) {
    const yy = Y(10 ** d).toFixed(1);
    out.push(`<line x1="${left}" y1="${yy}" x2="${width - right}" y2="${yy}" stroke="${d === dMin ? '#333' : '#e3e3e3'}"/>`);
    out.push(`<text x="${left - 6}" y="${yy}" text-anchor="end" dominant-baseline="middle" fill="#444">1e${d}</text>`);
  }
  for (const v of xTicks(xMin, xMax)) {
    const xx = X(v).toFixed(1);
    out.push(`<line x1="${xx}" y1="${top}" x2="${xx}" y2="${top + plotH}" stroke="${v === xMin ? '#333' : '#f0f0f0'}"/>`);
    out.push(`<text x="${xx}" y="${top + plotH + 16}" text-anchor="middle" fill="#444">${v}</text>`);
  }
  out.push(`<text x="${left + plotW / 2}" y="${top + plotH + 40}" text-anchor="middle" fill="#333">${esc(c.xLabel)}</text>`);
  const midY = top + plotH / 2;
  out.push(`<text x="18" y="${midY}" text-anchor="middle" transform="rotate(-90 18 ${midY})" fill="#333">${esc(c.yLabel)}</text>`);

  const placed: Box[] = pts.map((p) => ({ x: X(p.x) - 4, y: Y(p.y) - 4, w: 8, h: 8 }));
  c.series.forEach((s, si) => {
    const sorted = [...s.points].sort((a, b) => a.x - b.x);
    if (sorted.length > 1) {
      out.push(`<polyline points="${sorted.map((p) => `${X(p.x).toFixed(1)},${Y(p.y).toFixed(1)}`).join(' ')}" fill="none" stroke="${s.color}" stroke-width="1.5" opacity="0.6"/>`);
    }
    for (const p of sorted) {
      const cx = X(p.x);
      const cy = Y(p.y);
      out.push(`<circle cx="${cx.toFixed(1)}" cy="${cy.toFixed(1)}" r="4" fill="${s.color}"><title>${esc(`${p.label} (${s.name}): ${p.x.toFixed(3)} bpw, ${p.y.toExponential(3)}`)}</title></circle>`);
      if (si !== 0) continue;
      // the first free spot around the point (then further out), else none: the tooltip still names it
      const w = 6 * p.label.length + 2;
      const h = 11;
      const spots = [[6, -14], [6, 3], [-6 - w, -14], [-6 - w, 3], [6, -26], [6, 15], [-6 - w, -26], [-6 - w, 15], [6, -38], [6, 27]];
      const box = spots.map(([dx, dy]) => ({ x: cx + dx!, y: cy + dy!, w, h })).find((b) => !placed.some((o) => overlaps(o, b)));
      if (!box) continue;
      placed.push(box);
      out.push(`<text x="${box.x.toFixed(1)}" y="${(box.y + 9).toFixed(1)}" font-size="10" fill="#222">${esc(p.label)}</text>`);
    }
  });

  let lx = left;
  const ly = top + plotH + bottom;
  for (const s of c.series) {
    out.push(`<rect x="${lx}" y="${ly}" width="12" height="12" fill="${s.color}"/>`);
    out.push(`<text x="${lx + 18}" y="${ly + 10}" fill="#222">${esc(s.name)}</text>`);
    lx += 18 + s.name.length * 7 + 24;
  }
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
