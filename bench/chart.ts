/**
 * The latency chart as a hand-written SVG: a percentile spectrum (x: percentile on a "nines" scale,
 * so the tail gets room; y: milliseconds, logarithmic), one line per phase, the 100 ms goal dashed.
 */

export interface ChartSeries {
  readonly name: string;
  readonly points: readonly { readonly p: number; readonly ms: number }[];
}

const width = 960;
const height = 560;
const margin = { top: 64, right: 340, bottom: 56, left: 72 };
const plotWidth = width - margin.left - margin.right;
const plotHeight = height - margin.top - margin.bottom;
const colors = [
  '#1f77b4',
  '#ff7f0e',
  '#2ca02c',
  '#d62728',
  '#9467bd',
  '#8c564b',
  '#e377c2',
  '#17becf',
  '#bcbd22',
  '#7f7f7f',
];
/** Where p100 (the maximum) is drawn: just past 99.9. */
const maxNines = 3.3;

function nines(p: number): number {
  return p >= 100 ? maxNines : Math.min(maxNines, -Math.log10(1 - p / 100));
}

export function latencyChartSvg(
  title: string,
  subtitle: string,
  series: readonly ChartSeries[],
  goalMs: number,
): string {
  const all = series.flatMap((s) => s.points.map((point) => point.ms)).filter((ms) => ms > 0);
  const minMs = 10 ** Math.floor(Math.log10(Math.max(0.1, Math.min(...all, goalMs))));
  const maxMs = 10 ** Math.ceil(Math.log10(Math.max(...all, goalMs * 2)));
  const x = (p: number) => margin.left + (nines(p) / maxNines) * plotWidth;
  const y = (ms: number) =>
    margin.top +
    plotHeight -
    ((Math.log10(Math.max(ms, minMs)) - Math.log10(minMs)) / (Math.log10(maxMs) - Math.log10(minMs))) * plotHeight;
  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${margin.left}" y="26" font-size="17" font-weight="bold">${escapeXml(title)}</text>`,
    `<text x="${margin.left}" y="46" fill="#555">${escapeXml(subtitle)}</text>`,
  );
  for (let decade = Math.log10(minMs); decade <= Math.log10(maxMs); decade++) {
    for (const step of [1, 2, 5]) {
      const ms = step * 10 ** decade;
      if (ms > maxMs) break;
      const yy = y(ms).toFixed(1);
      parts.push(
        `<line x1="${margin.left}" x2="${margin.left + plotWidth}" y1="${yy}" y2="${yy}" stroke="${step === 1 ? '#ccc' : '#eee'}"/>`,
        `<text x="${margin.left - 6}" y="${yy}" text-anchor="end" dominant-baseline="middle" fill="#444">${formatMs(ms)}</text>`,
      );
    }
  }
  for (const [p, label] of [
    [0, '0'],
    [50, '50'],
    [90, '90'],
    [95, '95'],
    [99, '99'],
    [99.9, '99.9'],
    [100, 'max'],
  ] as const) {
    const xx = x(p).toFixed(1);
    parts.push(
      `<line x1="${xx}" x2="${xx}" y1="${margin.top}" y2="${margin.top + plotHeight}" stroke="#eee"/>`,
      `<text x="${xx}" y="${margin.top + plotHeight + 18}" text-anchor="middle" fill="#444">${label}</text>`,
    );
  }
  parts.push(
    `<text x="${margin.left + plotWidth / 2}" y="${height - 14}" text-anchor="middle">percentile of deliveries</text>`,
    `<text x="18" y="${margin.top + plotHeight / 2}" text-anchor="middle" transform="rotate(-90 18 ${margin.top + plotHeight / 2})">send to arrival (ms, log scale)</text>`,
    `<rect x="${margin.left}" y="${margin.top}" width="${plotWidth}" height="${plotHeight}" fill="none" stroke="#888"/>`,
  );
  const goalY = y(goalMs).toFixed(1);
  parts.push(
    `<line x1="${margin.left}" x2="${margin.left + plotWidth}" y1="${goalY}" y2="${goalY}" stroke="#d62728" stroke-dasharray="6 4"/>`,
    `<text x="${margin.left + 6}" y="${Number(goalY) - 6}" fill="#d62728">goal ${goalMs} ms</text>`,
  );
  series.forEach((s, i) => {
    const color = colors[i % colors.length] as string;
    const path = s.points.map((point) => `${x(point.p).toFixed(1)},${y(point.ms).toFixed(1)}`).join(' ');
    parts.push(`<polyline fill="none" stroke="${color}" stroke-width="2" points="${path}"/>`);
    const legendY = margin.top + 10 + i * 22;
    parts.push(
      `<line x1="${margin.left + plotWidth + 16}" x2="${margin.left + plotWidth + 40}" y1="${legendY}" y2="${legendY}" stroke="${color}" stroke-width="3"/>`,
      `<text x="${margin.left + plotWidth + 46}" y="${legendY}" dominant-baseline="middle">${escapeXml(s.name)}</text>`,
    );
  });
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}

function formatMs(ms: number): string {
  return ms >= 1000 ? `${ms / 1000} s` : `${ms} ms`;
}

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
