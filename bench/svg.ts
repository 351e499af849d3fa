// A grouped bar chart as standalone SVG: one group per test, one bar per
// series, whiskers for +-1 standard deviation, the value on each bar and a
// note under each group (the ratio). Hand-written so the benches need no
// plotting dependency.

export interface ChartBar {
  value: number;
  sd?: number;
}

export interface ChartGroup {
  label: string;
  /** One per series, in series order. */
  bars: ChartBar[];
  /** A line under the label ("0.42x"). */
  note?: string;
}

export interface BarChart {
  title: string;
  subtitle?: string;
  yLabel: string;
  series: { name: string; color: string }[];
  groups: ChartGroup[];
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** 1, 2 or 5 times a power of ten, so that about `n` ticks cover `max`. */
function niceStep(max: number, n = 5): number {
  if (!(max > 0)) return 1;
  const raw = max / n;
  const p = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 5, 10]) if (m * p >= raw) return m * p;
  return 10 * p;
}

function fmt(v: number): string {
  if (v >= 100) return v.toFixed(0);
  if (v >= 10) return v.toFixed(1);
  return v.toFixed(2);
}

export function barChartSVG(c: BarChart): string {
  const nSeries = c.series.length;
  const barW = 34;
  const groupGap = 36;
  const groupW = nSeries * barW + groupGap;
  const left = 70;
  const right = 20;
  const top = c.subtitle ? 74 : 56;
  const plotH = 280;
  const bottom = 64;
  const legendH = 24;
  const width = Math.max(480, left + right + c.groups.length * groupW);
  // groups centred when the minimum width leaves room
  const x0Groups = left + (width - left - right - c.groups.length * groupW) / 2;
  const height = top + plotH + bottom + legendH;

  const peak = Math.max(0, ...c.groups.flatMap((g) => g.bars.map((b) => b.value + (b.sd ?? 0))));
  const step = niceStep(peak);
  const yMax = Math.max(step, Math.ceil(peak / step) * step);
  const y = (v: number) => top + plotH - (v / yMax) * plotH;

  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, -apple-system, 'Segoe UI', sans-serif" font-size="12">`);
  out.push(`<rect width="100%" height="100%" fill="#fff"/>`);
  out.push(`<text x="${width / 2}" y="24" text-anchor="middle" font-size="16" font-weight="600">${esc(c.title)}</text>`);
  if (c.subtitle) out.push(`<text x="${width / 2}" y="44" text-anchor="middle" fill="#555">${esc(c.subtitle)}</text>`);

  // grid and y axis
  const tickDecimals = Math.max(0, -Math.floor(Math.log10(step)));
  for (let i = 0; i * step <= yMax + step / 2; i++) {
    const v = i * step;
    const yy = y(v).toFixed(1);
    out.push(`<line x1="${left}" y1="${yy}" x2="${width - right}" y2="${yy}" stroke="${v === 0 ? '#333' : '#e3e3e3'}"/>`);
    out.push(`<text x="${left - 6}" y="${yy}" text-anchor="end" dominant-baseline="middle" fill="#444">${v.toFixed(tickDecimals)}</text>`);
  }
  const midY = top + plotH / 2;
  out.push(`<text x="16" y="${midY}" text-anchor="middle" transform="rotate(-90 16 ${midY})" fill="#333">${esc(c.yLabel)}</text>`);

  c.groups.forEach((g, gi) => {
    const x0 = x0Groups + groupGap / 2 + gi * groupW;
    g.bars.forEach((b, si) => {
      const x = x0 + si * barW;
      const yTop = y(b.value);
      const color = c.series[si]?.color ?? '#888';
      out.push(`<rect x="${x + 2}" y="${yTop.toFixed(1)}" width="${barW - 4}" height="${(top + plotH - yTop).toFixed(1)}" fill="${color}"><title>${esc(`${c.series[si]?.name ?? ''} ${g.label}: ${fmt(b.value)}${b.sd ? ` ± ${fmt(b.sd)}` : ''}`)}</title></rect>`);
      if (b.sd && b.sd > 0) {
        const cx = x + barW / 2;
        const y1 = y(Math.max(0, b.value - b.sd)).toFixed(1);
        const y2 = y(b.value + b.sd).toFixed(1);
        out.push(`<path d="M${cx} ${y1}V${y2}M${cx - 5} ${y1}h10M${cx - 5} ${y2}h10" stroke="#222" fill="none"/>`);
      }
      const labelY = y(b.value + (b.sd ?? 0)) - 5;
      out.push(`<text x="${x + barW / 2}" y="${labelY.toFixed(1)}" text-anchor="middle" font-size="10" fill="#222">${fmt(b.value)}</text>`);
    });
    const cx = x0 + (nSeries * barW) / 2;
    out.push(`<text x="${cx}" y="${top + plotH + 18}" text-anchor="middle" fill="#222">${esc(g.label)}</text>`);
    if (g.note) out.push(`<text x="${cx}" y="${top + plotH + 34}" text-anchor="middle" fill="#555">${esc(g.note)}</text>`);
  });

  // legend
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
