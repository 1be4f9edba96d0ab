// Charts: uPlot for the time series (small and fast), plain HTML bars for distributions. Every
// chart has a text alternative: a caption that says what it shows and a table with the numbers.
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { PALETTE } from './colours';
import { type Child, cutText, h, table, visible } from './dom';
import { formatCount, formatPercent, label } from './format';

const live = new Set<{ chart: uPlot; observer: ResizeObserver }>();

/** Destroys the charts of the previous view. */
export function destroyCharts(): void {
  for (const entry of live) {
    entry.observer.disconnect();
    entry.chart.destroy();
  }
  live.clear();
}

function mount(container: HTMLElement, opts: Omit<uPlot.Options, 'width'>, data: uPlot.AlignedData): void {
  // Drawn once the container is in the document and has a width.
  requestAnimationFrame(() => {
    if (!container.isConnected) return;
    const chart = new uPlot({ ...opts, width: Math.max(container.clientWidth, 280) }, data, container);
    const observer = new ResizeObserver(() => {
      const width = Math.max(container.clientWidth, 280);
      if (Math.abs(width - chart.width) > 2) chart.setSize({ width, height: opts.height });
    });
    observer.observe(container);
    live.add({ chart, observer });
  });
}

const dayToSeconds = (day: string) => Date.parse(`${day}T00:00:00Z`) / 1000;

const AXIS = {
  stroke: '#374151',
  grid: { stroke: '#e5e7eb', width: 1 },
  ticks: { stroke: '#d1d5db', width: 1 },
};

/**
 * Gridline steps in whole days: the x scale is plain numbers (seconds), and uPlot's own numeric
 * steps (multiples of 100,000 s) put a day's label hours away from its point. Multiples of these
 * fall on UTC midnights, where the points are.
 */
const DAY_STEPS = [1, 2, 3, 7, 14, 28, 56, 91, 182, 364, 728].map((days) => days * 86_400);

function dayAxis(): uPlot.Axis {
  return {
    ...AXIS,
    incrs: DAY_STEPS,
    values: (u, splits) => {
      const days = splits.map((s) => new Date(s * 1000).toISOString().slice(0, 10));
      // MM-DD, and the year where a range over several years needs it (its first label and each
      // one in a new year): 12-01 alone cannot tell which December of a 400-day range.
      const years = new Set(days.map((d) => d.slice(0, 4))).size;
      const labels = days.map((d, i) =>
        years > 1 && (i === 0 || d.slice(0, 4) !== days[i - 1]!.slice(0, 4)) ? d : d.slice(5),
      );
      // Where the day labels went (seconds) and what they say, for the browser test.
      u.root.dataset.dayTicks = splits.join(' ');
      u.root.dataset.dayLabels = labels.join(' ');
      return labels;
    },
  };
}

/**
 * Today (UTC) is not over: a lighter veil over its part of the chart, so that its lower count does
 * not read as an outage. The day is also put on the plot for the browser test.
 */
function partialDayVeil(day: string): uPlot.Plugin {
  return {
    hooks: {
      draw: (u) => {
        u.root.dataset.partialDay = day;
        const left = u.valToPos(dayToSeconds(day) - 43_200, 'x', true);
        const { top, height } = u.bbox;
        const right = u.bbox.left + u.bbox.width;
        u.ctx.save();
        u.ctx.fillStyle = 'rgba(255, 255, 255, 0.6)';
        u.ctx.fillRect(Math.max(left, u.bbox.left), top, right - Math.max(left, u.bbox.left), height);
        u.ctx.restore();
      },
    },
  };
}

/**
 * A range of one day: a line needs two points, and one alone was a dot easy to miss. The day is
 * drawn as a bar (as wide as a day, at most 96px) on an x axis of that day only.
 */
const singleDay = {
  scale: (day: string): uPlot.Scale => ({
    time: false,
    range: [dayToSeconds(day) - 43_200, dayToSeconds(day) + 43_200],
  }),
  bars: () => uPlot.paths.bars!({ size: [0.6, 96] }),
};

/**
 * The value written above a single day's bar, so that it reads without a hover or the table; also
 * put on the plot for the browser test. Drawn last, over the veil of a day not over.
 */
function valueLabel(text: string): uPlot.Plugin {
  return {
    hooks: {
      draw: (u) => {
        u.root.dataset.valueLabel = text;
        const value = u.data[1]?.[0] ?? 0;
        const ratio = uPlot.pxRatio;
        u.ctx.save();
        u.ctx.font = `600 ${13 * ratio}px system-ui, sans-serif`;
        u.ctx.fillStyle = '#111827';
        u.ctx.textAlign = 'center';
        u.ctx.textBaseline = 'bottom';
        u.ctx.fillText(text, u.valToPos(u.data[0][0]!, 'x', true), u.valToPos(value, 'y', true) - 4 * ratio);
        u.ctx.restore();
      },
    },
  };
}

/** A day as the numbers table shows it: today's marked as not over. */
const dayCell = (day: string, partial: boolean) => (partial ? `${day} (so far)` : day);

/**
 * Active clusters per day: a line with its points, and the same numbers as a table. `partialLast`:
 * the last day is today, still counting.
 */
export function dailyChart(
  title: string,
  series: { day: string; clusters: number }[],
  describe: string,
  partialLast = false,
): HTMLElement {
  const lastDay = series.at(-1)?.day;
  const only = series.length === 1 ? series[0]! : null;
  const plot = h('div', { class: 'plot', 'aria-hidden': 'true' });
  const peak = Math.max(0, ...series.map((s) => s.clusters));
  const plugins = partialLast && lastDay ? [partialDayVeil(lastDay)] : [];
  if (only) plugins.push(valueLabel(`${formatCount(only.clusters)}${partialLast ? ' so far' : ''}`));
  mount(
    plot,
    {
      height: 220,
      scales: {
        x: only ? singleDay.scale(only.day) : { time: false },
        // Room above a single day's bar for its value.
        y: { range: [0, Math.max(peak * (only ? 1.3 : 1.15), 1)] },
      },
      axes: [
        dayAxis(),
        { ...AXIS, values: (_u, splits) => splits.map((v) => (Number.isInteger(v) ? formatCount(v) : '')) },
      ],
      legend: { show: false },
      cursor: { drag: { x: false, y: false } },
      plugins,
      series: [
        {},
        only
          ? {
              label: 'clusters',
              stroke: PALETTE[0],
              fill: PALETTE[0],
              width: 1,
              paths: singleDay.bars(),
              points: { show: false },
            }
          : {
              label: 'clusters',
              stroke: PALETTE[0],
              width: 2,
              fill: 'rgba(0, 114, 178, 0.12)',
              points: { show: series.length <= 62, size: 6 },
            },
      ],
    },
    [series.map((s) => dayToSeconds(s.day)), series.map((s) => s.clusters)],
  );
  return h(
    'figure',
    { class: 'chart' },
    h('figcaption', { class: 'muted' }, describe),
    plot,
    details(
      'Show the numbers',
      table(
        title,
        ['Day (UTC)', 'Clusters'],
        series.map((s) => [dayCell(s.day, partialLast && s.day === lastDay), formatCount(s.clusters)]),
        { numeric: [1], className: 'data compact' },
      ),
    ),
  );
}

/** A legend entry past this many characters is cut (a version may be 128); the table has it whole. */
const LEGEND_TEXT_MAX = 40;

/**
 * A value as a chart legend shows it. uPlot sets the text itself (as text, not markup), so the
 * dashboard's own treatment of values (dom.ts: visible()) is applied here.
 */
function legendLabel(value: string): string {
  return visible(value.length > LEGEND_TEXT_MAX ? `${value.slice(0, LEGEND_TEXT_MAX)}…` : value);
}

/**
 * Version adoption: active clusters per version per day, stacked. With `partialLast` (the last day
 * is today) the legend and the table are of the last complete day, whose shares are whole.
 */
export function stackedChart(
  title: string,
  days: string[],
  groups: { label: string; values: number[]; colour: string }[],
  describe: string,
  partialLast = false,
): HTMLElement {
  const plot = h('div', { class: 'plot' });
  // uPlot has no stacking of its own: draw running totals, the top band first, each filled to zero,
  // so every band shows its own height; the legend and the table show the real per-version values.
  const cumulative: number[][] = [];
  let running = days.map(() => 0);
  for (const group of groups) {
    running = running.map((v, i) => v + (group.values[i] ?? 0));
    cumulative.push(running);
  }
  const peak = Math.max(1, ...(cumulative.at(-1) ?? [0]));
  const order = groups.map((_, i) => i).reverse();
  // Without the cursor on the chart the legend shows the latest complete day (not blanks until a hover).
  const last = partialLast && days.length > 1 ? days.length - 2 : days.length - 1;
  mount(
    plot,
    {
      height: 240,
      scales: {
        x: days.length === 1 ? singleDay.scale(days[0]!) : { time: false },
        y: { range: [0, peak * 1.15] },
      },
      axes: [
        dayAxis(),
        { ...AXIS, values: (_u, splits) => splits.map((v) => (Number.isInteger(v) ? formatCount(v) : '')) },
      ],
      cursor: { drag: { x: false, y: false } },
      legend: { live: true },
      plugins: partialLast && days.length > 0 ? [partialDayVeil(days.at(-1)!)] : [],
      series: [
        {
          label: 'day',
          value: (_u, v) =>
            v === null ? (days[last] ?? '—') : new Date(v * 1000).toISOString().slice(0, 10),
        },
        ...order.map((i) => ({
          label: legendLabel(groups[i]!.label),
          stroke: groups[i]!.colour,
          fill: groups[i]!.colour,
          width: 1,
          points: { show: false },
          // One day: stacked bars (a band between days has no width with one).
          paths: days.length === 1 ? singleDay.bars() : undefined,
          value: (_u: uPlot, _v: number | null, _s: number, idx: number | null) =>
            formatCount(groups[i]!.values[idx ?? last] ?? 0),
        })),
      ],
    },
    [days.map(dayToSeconds), ...order.map((i) => cumulative[i]!)],
  );
  const lastTotal = groups.reduce((sum, g) => sum + (g.values[last] ?? 0), 0);
  return h(
    'figure',
    { class: 'chart' },
    h('figcaption', { class: 'muted' }, describe),
    plot,
    details(
      'Show the numbers',
      table(
        `${title}: active clusters per version on ${days[last] ?? '—'} and the peak over the range`,
        ['Version', `On ${days[last] ?? '—'}`, 'Share', 'Peak in range'],
        groups.map((g) => [
          g.label,
          formatCount(g.values[last] ?? 0),
          formatPercent(g.values[last] ?? 0, lastTotal),
          formatCount(Math.max(0, ...g.values)),
        ]),
        { numeric: [1, 2, 3], className: 'data compact' },
      ),
    ),
  );
}

/** A distribution as a table whose last column is a bar: readable by eye and by a screen reader. */
/** Rows of a bar table, the last one summing the rest when there are more. */
const BAR_ROWS_MAX = 30;

export function barTable(
  caption: string,
  rows: { value: string | null; clusters: number }[],
  options: {
    valueHeader?: string;
    countHeader?: string;
    link?: (value: string | null) => string | null;
    testId?: string;
    /**
     * What each share is a share of, when it is not the rows' sum: a cluster counted in several
     * rows (one per connector), or rows that are only the top few.
     */
    total?: number;
  } = {},
): HTMLElement {
  const total = options.total ?? rows.reduce((sum, r) => sum + r.clusters, 0);
  const peak = Math.max(1, ...rows.map((r) => r.clusters));
  if (rows.length === 0) {
    return h(
      'div',
      { class: 'card-empty' },
      h('p', { class: 'muted' }, `${caption}: no clusters in this range.`),
    );
  }
  // A fleet can report thousands of distinct values (versions of every nightly build): the first
  // rows, and the rest summed in one, as the version chart does.
  const shown = rows.length > BAR_ROWS_MAX ? rows.slice(0, BAR_ROWS_MAX - 1) : rows;
  const rest = rows.slice(shown.length);
  const restClusters = rest.reduce((sum, r) => sum + r.clusters, 0);
  const restRow: Child[][] =
    rest.length === 0
      ? []
      : [
          [
            h('span', { class: 'muted' }, `${formatCount(rest.length)} other values`),
            formatCount(restClusters),
            formatPercent(restClusters, total),
            '',
          ],
        ];
  const tableEl = table(
    caption,
    [options.valueHeader ?? 'Value', options.countHeader ?? 'Clusters', 'Share', ''],
    shown
      .map((r): Child[] => {
        const bar = h('span', { class: 'bar' });
        bar.style.width = `${(r.clusters / peak) * 100}%`;
        const href = options.link?.(r.value) ?? null;
        const name: Child = href ? h('a', { href }, label(r.value)) : label(r.value);
        return [
          name,
          h('span', { 'data-value': r.clusters }, formatCount(r.clusters)),
          formatPercent(r.clusters, total),
          h('span', { class: 'bar-track', 'aria-hidden': 'true' }, bar),
        ];
      })
      .concat(restRow),
    { numeric: [1, 2], className: 'data bars' },
  );
  if (options.testId) tableEl.setAttribute('data-test', options.testId);
  return tableEl;
}

/** Grouped horizontal bars (e.g. p50/p90/p99 per version), with a legend; the table carries the numbers. */
export function groupedBars(
  caption: string,
  groups: { label: string; values: (number | null)[] }[],
  seriesNames: string[],
  format: (v: number | null) => string,
): HTMLElement {
  const peak = Math.max(0, ...groups.flatMap((g) => g.values.map((v) => v ?? 0)));
  return h(
    'figure',
    { class: 'chart grouped', 'aria-hidden': 'true' },
    h('figcaption', {}, h('span', { class: 'chart-title' }, caption)),
    h(
      'div',
      { class: 'legend' },
      seriesNames.map((name, i) => {
        const swatch = h('span', { class: 'swatch' });
        swatch.style.background = PALETTE[i % PALETTE.length]!;
        return h('span', {}, swatch, name);
      }),
    ),
    groups.map((g) =>
      h(
        'div',
        { class: 'group' },
        // A long label (a tracking id, a label value) is cut, whole in its tooltip.
        cutText('div', g.label, LEGEND_TEXT_MAX, { class: 'group-label' }),
        h(
          'div',
          { class: 'group-bars' },
          g.values.map((v, i) => {
            const bar = h('span', { class: 'bar' });
            bar.style.width = `${peak > 0 ? ((v ?? 0) / peak) * 100 : 0}%`;
            bar.style.background = PALETTE[i % PALETTE.length]!;
            return h(
              'div',
              { class: 'bar-row' },
              h('span', { class: 'bar-track' }, bar),
              h('span', { class: 'bar-value' }, format(v)),
            );
          }),
        ),
      ),
    ),
  );
}

export function details(summary: string, ...content: Child[]): HTMLDetailsElement {
  return h('details', {}, h('summary', {}, summary), content);
}
