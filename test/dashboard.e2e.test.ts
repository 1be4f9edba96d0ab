// The dashboard end to end: a real collector on SQLite, filled through the real ingest routes, and
// Debian's Chromium (driven by playwright-core, never a downloaded browser) reading it. Every number
// checked on the page is compared with the query API's answer for the same range.
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { encodeReportJson, risingwaveWire as rw } from '@tidewatch/protocol';
import { type BrowserContext, chromium, type Locator, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentReport, counter, gauge, histogram } from '../packages/collector/test-support/agent-report.js';
import {
  ADMIN_TOKEN,
  startTestCollector,
  type TestCollector,
} from '../packages/collector/test-support/collector.js';
import {
  eventBatch,
  eventMessageWith,
  metaReport,
  nodeReport,
} from '../packages/collector/test-support/risingwave.js';
import { IN_CI, type TempDir, tempDir } from '../packages/collector/test-support/services.js';
import {
  formatCount,
  formatNumber,
  formatPercent,
  formatSeconds,
  formatShare,
  groupLabel,
  label,
  unitFormat,
} from '../packages/dashboard/app/format.js';

const CHROMIUM = '/usr/bin/chromium';
const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const DASHBOARD = join(ROOT, 'packages/dashboard');
const SCREENSHOTS = join(ROOT, 'test-results/screenshots');

const haveChromium = existsSync(CHROMIUM);
if (!haveChromium) {
  const message = `${CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium); .ci/run does`;
  if (IN_CI) throw new Error(`${message}. CI=true: the dashboard end-to-end tests must run, not skip.`);
  console.warn(`skipping the dashboard end-to-end tests: ${message}`);
}

/** Builds the dashboard when dist/ is missing or older than its sources. */
function ensureDashboardBuilt(): void {
  const index = join(DASHBOARD, 'dist/index.html');
  const newest = (dir: string): number =>
    Math.max(
      0,
      ...readdirSync(dir, { withFileTypes: true }).map((e) =>
        e.isDirectory() ? newest(join(dir, e.name)) : statSync(join(dir, e.name)).mtimeMs,
      ),
    );
  const sources = Math.max(newest(join(DASHBOARD, 'app')), statSync(join(DASHBOARD, 'index.html')).mtimeMs);
  if (existsSync(index) && statSync(index).mtimeMs >= sources) return;
  execFileSync('npm', ['run', 'build', '-w', '@tidewatch/dashboard'], { cwd: ROOT, stdio: 'inherit' });
}

/** A table's body as text, row by row. */
function bodyCells(table: Locator): Promise<(string | null)[][]> {
  return table
    .locator('tbody tr')
    .evaluateAll((rows) => rows.map((r) => [...r.children].map((c) => c.textContent)));
}

function metaReportOf(trackingId: string, version: string, clusterType: rw.TelemetryClusterType): Uint8Array {
  const report = fromBinary(rw.MetaReportSchema, metaReport({ trackingId, version }));
  report.clusterType = clusterType;
  return toBinary(rw.MetaReportSchema, create(rw.MetaReportSchema, report));
}

const isoDay = (ms: number) => new Date(ms).toISOString().slice(0, 10);

describe.skipIf(!haveChromium)('dashboard in headless Chromium', () => {
  let dir: TempDir;
  let full: TestCollector;
  let empty: TestCollector;
  let context: BrowserContext;
  let userDataDir: string | undefined;
  let range: { from: string; to: string };
  const consoleErrors: string[] = [];
  const clusters = {
    a: 'dash-a-7f3e9c1a-4b2d-4e8f-9a6c-1d5b3e7f9a2c',
    b: 'dash-b-5c0a7e8d-1f0b-4c1e-9a55-3d2f0c9e7b11',
    c: 'dash-c-0d6f2b8e-7a3c-4f5d-8e21-6b9c1a2d3e4f',
  };

  const api = async <T>(c: TestCollector, path: string): Promise<T> => {
    const res = await c.get(path);
    expect(res.status, path).toBe(200);
    return (await res.json()) as T;
  };
  const q = (path: string, extra = '') => `${path}?from=${range.from}&to=${range.to}${extra}`;

  async function open(hash: string): Promise<Page> {
    const page = await context.newPage();
    page.on('console', (m) => {
      if (m.type() === 'error') consoleErrors.push(m.text());
    });
    page.on('pageerror', (e) => consoleErrors.push(e.message));
    await page.goto(`${full.url}/${hash}`);
    return page;
  }

  /** Every panel has loaded (waitForFunction would need 'unsafe-eval', which the CSP forbids). */
  async function settled(page: Page): Promise<void> {
    await expect.poll(() => page.locator('[aria-busy="true"]').count(), { timeout: 15_000 }).toBe(0);
  }

  async function go(page: Page, hash: string): Promise<void> {
    await page.evaluate(`window.location.hash = ${JSON.stringify(hash)}`);
    await settled(page);
  }

  const shot = (page: Page, view: string) =>
    page.screenshot({ path: join(SCREENSHOTS, `${view}.png`), fullPage: true });

  beforeAll(async () => {
    ensureDashboardBuilt();
    mkdirSync(SCREENSHOTS, { recursive: true });
    dir = tempDir('tidewatch-dashboard-');
    full = await startTestCollector(`sqlite:${join(dir.path, 'full.db')}`);
    empty = await startTestCollector(`sqlite:${join(dir.path, 'empty.db')}`);

    const ok = async (res: Promise<Response>) => expect((await res).status).toBe(200);
    const K8S = rw.TelemetryClusterType.KUBERNETES;
    const SINGLE = rw.TelemetryClusterType.SINGLE_NODE;
    await ok(full.postProto('/api/v2/report/meta', metaReportOf(clusters.a, '2.4.1', K8S)));
    await ok(full.postProto('/api/v2/report/meta', metaReportOf(clusters.b, '2.4.1', SINGLE)));
    await ok(full.postProto('/api/v2/report/meta', metaReportOf(clusters.c, '2.5.0', K8S)));
    for (const [id, n] of [
      [clusters.a, 3],
      [clusters.b, 1],
      [clusters.c, 2],
    ] as const) {
      for (let i = 0; i < n; i++) {
        await ok(full.postProto('/api/v2/report/compute', nodeReport('compute', { trackingId: id })));
      }
    }
    const now = Math.floor(Date.now() / 1000);
    await ok(
      full.postProto(
        '/api/v2/report/events',
        eventBatch([
          { trackingId: clusters.a, name: 'source', eventTimeSec: now - 300 },
          {
            trackingId: clusters.a,
            name: 'failure_recovery',
            stage: rw.TelemetryEventStage.RECOVERY,
            eventTimeSec: now - 200,
          },
          { trackingId: clusters.c, name: 'sink', eventTimeSec: now - 100, catalogId: 43 },
          {
            trackingId: clusters.b,
            name: 'mv',
            stage: rw.TelemetryEventStage.DROP_STREAM_JOB,
            eventTimeSec: now - 50,
          },
        ]),
      ),
    );
    const latencies = {
      '2.4.1': [0.004, 0.006, 0.008, 0.012, 0.02, 0.03, 0.05],
      '2.5.0': [0.005, 0.009, 0.015, 0.04, 0.09, 0.2, 0.8],
    };
    for (const [trackingId, version] of [
      [clusters.a, '2.4.1'],
      [clusters.c, '2.5.0'],
    ] as const) {
      const report = agentReport({
        trackingId,
        version,
        metrics: [histogram('query.duration', latencies[version])],
      });
      await ok(full.post('/api/v3/report', encodeReportJson(report), { 'content-type': 'application/json' }));
    }
    // What the PGlite integration sends: errors by SQLSTATE class and DDL events.
    const errors = (cls: string, n: number) => counter('db.query.errors', n, { sqlstate_class: cls });
    for (const [trackingId, counts] of [
      [
        clusters.a,
        [
          ['42', 3],
          ['23', 1],
        ],
      ],
      [clusters.c, [['42', 2]]],
    ] as const) {
      const report = agentReport({
        trackingId,
        metrics: counts.map(([cls, n]) => errors(cls, n)),
        events: [
          { name: 'db.ddl', timeMs: Date.now(), fields: { op: 'create', object: 'table', name: 'accounts' } },
        ],
      });
      await ok(full.post('/api/v3/report', encodeReportJson(report), { 'content-type': 'application/json' }));
    }
    await full.collector.batcher.flush();
    range = { from: isoDay(Date.now() - 29 * 86_400_000), to: isoDay(Date.now()) };

    userDataDir = mkdtempSync(join(tmpdir(), 'tidewatch-chromium-'));
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM,
      headless: true,
      args: FLAGS,
      viewport: { width: 1280, height: 900 },
      timezoneId: 'UTC',
    });
    context.setDefaultTimeout(15_000);
  });

  afterAll(async () => {
    await context?.close();
    await full?.close();
    await empty?.close();
    dir?.remove();
    if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
  }, 90_000);

  it('serves the dashboard with strict security headers', async () => {
    const res = await fetch(`${full.url}/`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    const csp = res.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("default-src 'self'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain('unsafe-inline');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('referrer-policy')).toBe('no-referrer');
    const html = await res.text();
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
    // The API keeps its JSON errors: no catch-all static route.
    expect((await fetch(`${full.url}/no-such-route`)).headers.get('content-type')).toMatch(/json/);
  }, 90_000);

  it('signs in from the #token= fragment, drops it from the address bar, and shows the overview', async () => {
    const page = await open(`#token=${ADMIN_TOKEN}`);
    await page.locator('[data-test="tile-active"]').waitFor();
    expect(page.url()).not.toContain(ADMIN_TOKEN);
    expect(page.url()).not.toContain('token=');
    expect(await page.evaluate(`sessionStorage.getItem('tidewatch.token')`)).toBe(ADMIN_TOKEN);

    await go(page, `#/overview?from=${range.from}&to=${range.to}`);
    const overview = await api<{ clusters: Record<'active' | 'new' | 'silent' | 'total', number> }>(
      full,
      q('/query/overview'),
    );
    expect(overview.clusters.total).toBe(3);
    for (const key of ['active', 'new', 'silent', 'total'] as const) {
      expect(await page.locator(`[data-test="tile-${key}"]`).textContent(), key).toBe(
        formatCount(overview.clusters[key]),
      );
    }

    // Active clusters today: the last row of the chart's table.
    const active = await api<{ series: { day: string; clusters: number }[] }>(full, q('/query/active'));
    const today = active.series.at(-1)!;
    expect(today.clusters).toBe(3);
    const lastRow = page
      .locator('section.panel', { hasText: 'Active clusters per day' })
      .locator('tbody tr')
      .last();
    // Today is not over: marked so, in the table and in the caption (not read as an outage).
    expect(await lastRow.locator('td').allTextContents()).toEqual([
      `${today.day} (so far)`,
      formatCount(today.clusters),
    ]);
    const activeCaption = page
      .locator('section.panel', { hasText: 'Active clusters per day' })
      .locator('figcaption');
    expect(await activeCaption.textContent()).toContain(
      `${formatCount(today.clusters)} on ${today.day} so far`,
    );
    await expect
      .poll(() =>
        page
          .locator('[data-partial-day]')
          .evaluateAll((p) => p.map((e) => e.getAttribute('data-partial-day'))),
      )
      .toEqual([today.day, today.day]);

    // The version breakdown, row for row.
    const versions = await api<{ rows: { value: string | null; clusters: number }[] }>(
      full,
      q('/query/breakdown', '&by=version'),
    );
    expect(versions.rows.length).toBeGreaterThanOrEqual(2);
    const shown = await page
      .locator('[data-test="breakdown-version"] tbody tr')
      .evaluateAll((rows) =>
        rows.map((r) => [r.children[0]?.textContent ?? '', r.children[1]?.textContent ?? '']),
      );
    expect(shown).toEqual(versions.rows.map((r) => [label(r.value), formatCount(r.clusters)]));
    const types = await api<{ rows: { value: string | null; clusters: number }[] }>(
      full,
      q('/query/breakdown', '&by=clusterType'),
    );
    expect(await page.locator('[data-test="breakdown-clusterType"] tbody tr').count()).toBe(
      types.rows.length,
    );
    // The adoption chart drew (a canvas) and has its table.
    const adoptionPanel = page.locator('section.panel', { hasText: 'Version adoption' });
    await adoptionPanel.locator('canvas').first().waitFor();
    // With the pointer off the chart its legend shows the latest day's count per version, as the
    // table does (it showed blanks until a hover).
    await adoptionPanel.locator('.u-over').first().hover();
    await page.mouse.move(0, 0);
    const legend = await adoptionPanel
      .locator('.u-legend .u-series')
      .evaluateAll((rows) =>
        rows.map((r) => [
          r.querySelector('.u-label')?.textContent ?? '',
          r.querySelector('.u-value')?.textContent ?? '',
        ]),
      );
    const onLastDay = await adoptionPanel
      .locator('figure.chart', { has: page.locator('.u-legend') })
      .locator('table.data tbody tr')
      .evaluateAll((rows) =>
        rows.map((r) => [r.children[0]?.textContent ?? '', r.children[1]?.textContent ?? '']),
      );
    // The range ends today, not over: the legend and the table (its shares) are of yesterday.
    const yesterday = isoDay(Date.now() - 86_400_000);
    expect(legend[0]![1]).toBe(yesterday);
    expect(await adoptionPanel.locator('figure.chart table.data thead th').nth(1).textContent()).toBe(
      `On ${yesterday}`,
    );
    expect(legend.slice(1).sort()).toEqual(onLastDay.sort());
    await shot(page, 'overview');

    // Connectors.
    await go(page, `#/connectors?from=${range.from}&to=${range.to}`);
    const connectors = await api<{ rows: { value: string | null; clusters: number }[] }>(
      full,
      q('/query/breakdown', '&by=connector'),
    );
    expect(connectors.rows.length).toBeGreaterThan(0);
    const usage = await api<{ clusters: number }>(full, q('/query/connectors'));
    const connectorRows = await page
      .locator('[data-test="breakdown-connector"] tbody tr')
      .evaluateAll((rows) => rows.map((r) => [0, 1, 2].map((i) => r.children[i]?.textContent ?? '')));
    // Every cluster uses several connectors: a share is of the clusters, not of the rows' sum.
    expect(connectorRows).toEqual(
      connectors.rows.map((r) => [
        label(r.value),
        formatCount(r.clusters),
        formatPercent(r.clusters, usage.clusters),
      ]),
    );
    await shot(page, 'connectors');

    // Events: all, then filtered to recoveries with the form.
    await go(page, `#/events?from=${range.from}&to=${range.to}`);
    const events = await api<{ events: unknown[] }>(full, q('/query/events', '&limit=100'));
    expect(events.events).toHaveLength(4);
    expect(await page.locator('[data-test="events-count"]').textContent()).toBe(
      formatCount(events.events.length),
    );
    await page.getByLabel('Stage').selectOption('recovery');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await page.waitForURL(/stage=recovery/);
    await settled(page);
    const recoveries = await api<{ events: { name: string }[] }>(full, q('/query/events', '&stage=recovery'));
    expect(recoveries.events.map((e) => e.name)).toEqual(['failure_recovery']);
    expect(await page.locator('[data-test="events-count"]').textContent()).toBe(
      formatCount(recoveries.events.length),
    );
    await go(page, `#/events?from=${range.from}&to=${range.to}`);
    await shot(page, 'events');

    // Metrics: p99 of the merged latency histograms, by version.
    await go(page, `#/metrics?from=${range.from}&to=${range.to}&name=query.duration&by=version`);
    const metric = await api<{ kind: string; rows: { value: string; p99: number; p50: number }[] }>(
      full,
      q('/query/metrics/query.duration', '&by=version'),
    );
    expect(metric.kind).toBe('histogram');
    expect(metric.rows.map((r) => r.value).sort()).toEqual(['2.4.1', '2.5.0']);
    for (const row of metric.rows) {
      const cells = page.locator('table.metrics tbody tr', { hasText: row.value }).locator('td');
      expect(await cells.nth(5).textContent()).toBe(formatSeconds(row.p99));
      expect(await cells.nth(5).locator('span').getAttribute('data-value')).toBe(String(row.p99));
      expect(await cells.nth(3).textContent()).toBe(formatSeconds(row.p50));
    }
    await shot(page, 'metrics');

    // Errors by SQLSTATE class (a label breakdown), and the DDL events agents sent.
    await go(
      page,
      `#/metrics?from=${range.from}&to=${range.to}&name=db.query.errors&by=label:sqlstate_class&event=db.ddl`,
    );
    const byClass = await api<{ kind: string; rows: { value: string; clusters: number; total: number }[] }>(
      full,
      q('/query/metrics/db.query.errors', '&by=label:sqlstate_class'),
    );
    expect(byClass.rows.map((r) => [r.value, r.total])).toEqual([
      ['42', 5],
      ['23', 1],
    ]);
    expect(await page.getByLabel('Label key').inputValue()).toBe('sqlstate_class');
    const classRows = await page
      .locator('table.metrics tbody tr')
      .evaluateAll((rows) => rows.map((r) => [...r.querySelectorAll('td')].map((td) => td.textContent)));
    expect(classRows).toEqual(
      byClass.rows.map((r) => [groupLabel(r.value), formatCount(r.clusters), formatNumber(r.total)]),
    );
    const ddl = await api<{ events: { trackingId: string; name: string }[] }>(
      full,
      q('/query/agent-events', '&name=db.ddl'),
    );
    expect(ddl.events).toHaveLength(2);
    const shownEvents = await page
      .locator('table.agent-events tbody tr')
      .evaluateAll((rows) =>
        rows.map((r) => [r.children[1]?.textContent, r.children[2]?.textContent, r.children[3]?.textContent]),
      );
    expect(shownEvents).toEqual(
      ddl.events.map((e) => [e.trackingId, 'db.ddl', '{"op":"create","object":"table","name":"accounts"}']),
    );
    await shot(page, 'metrics-errors-by-class');

    // The cluster list, then a cluster found by its tracking id with the search form: first a part
    // of it (the list of matches, without a 404 in the console), then all of it (its page).
    await go(page, `#/cluster?from=${range.from}&to=${range.to}`);
    await shot(page, 'clusters');
    const part = clusters.a.slice(0, 8);
    await page.getByLabel('Tracking id').fill(part);
    await page.getByRole('button', { name: 'Find cluster' }).click();
    await page.waitForURL(new RegExp(`search=${part}`));
    await settled(page);
    expect(await page.locator('tbody tr', { hasText: clusters.a }).count()).toBe(1);
    await page.getByLabel('Tracking id').fill(clusters.a);
    await page.getByRole('button', { name: 'Find cluster' }).click();
    await page.waitForURL(new RegExp(`#/cluster/${clusters.a}`));
    await settled(page);
    const cluster = await api<{
      version: string;
      clusterType: string;
      events: number;
      reports: Record<string, number>;
    }>(full, `/query/clusters/${clusters.a}`);
    expect(cluster.reports.compute).toBe(3);
    expect(await page.locator('[data-test="fact-version"]').textContent()).toBe(cluster.version);
    expect(await page.locator('[data-test="fact-clusterType"]').textContent()).toBe(cluster.clusterType);
    expect(await page.locator('[data-test="fact-events"]').textContent()).toBe(formatCount(cluster.events));
    for (const node of ['meta', 'compute', 'frontend', 'compactor']) {
      expect(await page.locator(`[data-test="reports-${node}"]`).textContent(), node).toBe(
        formatCount(cluster.reports[node]),
      );
    }
    const clusterEvents = await api<{ events: unknown[] }>(
      full,
      q('/query/events', `&trackingId=${clusters.a}`),
    );
    expect(
      await page
        .locator('section.panel', { has: page.getByRole('heading', { name: 'Events', exact: true }) })
        .locator('tbody tr')
        .count(),
    ).toBe(clusterEvents.events.length);
    // The cluster's agent events (its db.ddl), without a cluster column.
    const ownEvents = await api<{ events: { name: string }[] }>(
      full,
      q('/query/agent-events', `&trackingId=${clusters.a}`),
    );
    expect(ownEvents.events.map((e) => e.name)).toEqual(['db.ddl']);
    expect(
      await page
        .locator('table.agent-events tbody tr')
        .evaluateAll((rows) =>
          rows.map((r) => [...r.querySelectorAll('td')].slice(1).map((td) => td.textContent)),
        ),
    ).toEqual([['db.ddl', '{"op":"create","object":"table","name":"accounts"}']]);
    await shot(page, 'cluster');

    // No script error and no CSP violation anywhere so far.
    expect(consoleErrors, consoleErrors.join('\n')).toEqual([]);

    // A tracking id nobody sent: a clear note, not a broken page (the browser logs the one 404),
    // and no panel fails with the same 404 again.
    consoleErrors.length = 0;
    await go(page, '#/cluster/no-such-cluster');
    await page.locator('[data-test="cluster-not-found"]').waitFor();
    expect(await page.locator('[role="alert"]').count()).toBe(0);
    expect(consoleErrors.filter((e) => e.includes('404'))).toHaveLength(1);
    await page.close();
  }, 90_000);

  it('keyboard: the navigation and the range presets are reachable with Tab, and focus is visible', async () => {
    const page = await open(`#token=${ADMIN_TOKEN}`);
    await page.locator('[data-test="tile-active"]').waitFor();
    const focused: string[] = [];
    for (let i = 0; i < 30 && !focused.includes('90 days'); i++) {
      await page.keyboard.press('Tab');
      focused.push(await page.evaluate(`document.activeElement?.textContent?.trim() ?? ''`));
    }
    expect(focused).toEqual(expect.arrayContaining(['Overview', 'Events', 'Metrics', '7 days', '90 days']));
    const outline = await page.evaluate(`getComputedStyle(document.activeElement).outlineStyle`);
    expect(outline).not.toBe('none');
    await page.getByRole('button', { name: '7 days' }).click();
    await page.waitForURL(/from=/);
    await expect
      .poll(() => page.getByRole('button', { name: '7 days' }).getAttribute('aria-pressed'))
      .toBe('true');
    await page.close();
  }, 90_000);

  it('keeps Sign out on the range row, at the right end of the header, when the header wraps', async () => {
    const page = await open(`#token=${ADMIN_TOKEN}`);
    await page.locator('[data-test="tile-active"]').waitFor();
    for (const width of [1600, 1400, 1000]) {
      await page.setViewportSize({ width, height: 900 });
      const [header, range, signOut] = await Promise.all(
        ['header.top', '.range', '.signout'].map(async (sel) => (await page.locator(sel).boundingBox())!),
      );
      const padding = await page.evaluate(
        `parseFloat(getComputedStyle(document.querySelector('header.top')).paddingRight)`,
      );
      expect(
        Math.abs(signOut!.x + signOut!.width - (header!.width - Number(padding))),
        `${width}px`,
      ).toBeLessThan(2);
      // On the range's row, not alone on one of its own.
      expect(signOut!.y, `${width}px`).toBeGreaterThanOrEqual(range!.y - 2);
      expect(signOut!.y + signOut!.height, `${width}px`).toBeLessThanOrEqual(range!.y + range!.height + 2);
    }
    await page.setViewportSize({ width: 1280, height: 900 });
    await page.close();
  }, 90_000);

  it('the range is shown and typed as UTC days, YYYY-MM-DD, in a German browser too; a bad day says why and asks nothing', async () => {
    // A browser of its own: the locale and time zone are the context's (not those of `context`).
    const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: FLAGS });
    try {
      const german = await browser.newContext({
        locale: 'de-DE',
        timezoneId: 'Europe/Berlin',
        viewport: { width: 1280, height: 900 },
      });
      german.setDefaultTimeout(15_000);
      const page = await german.newPage();
      page.on('pageerror', (e) => consoleErrors.push(e.message));
      await page.goto(`${full.url}/#token=${ADMIN_TOKEN}`);
      await page.locator('[data-test="tile-active"]').waitFor();
      expect(await page.evaluate('navigator.language')).toBe('de-DE');
      await go(page, `#/overview?from=${range.from}&to=${range.to}`);
      const from = page.getByLabel('From', { exact: true });
      const to = page.getByLabel('To', { exact: true });
      expect([await from.inputValue(), await to.inputValue()]).toEqual([range.from, range.to]);
      expect(await from.getAttribute('placeholder')).toBe('YYYY-MM-DD');

      // Typed key by key, as an operator does (fill() would set a date field's value behind its
      // locale's display): the day as the rest of the dashboard writes it.
      const type = async (field: Locator, text: string) => {
        await field.click();
        await page.keyboard.press('Control+A');
        await page.keyboard.type(text);
      };
      const week = isoDay(Date.now() - 6 * 86_400_000);
      await type(from, week);
      await type(to, range.to);
      await page.keyboard.press('Enter');
      await page.waitForURL(new RegExp(`from=${week}&to=${range.to}`));
      await settled(page);
      expect(await page.locator('.page-heading p').textContent()).toContain(
        `UTC days ${week} to ${range.to}`,
      );
      expect(await from.inputValue()).toBe(week);

      // A day in the locale's own format, an impossible day, an empty field: each says what is
      // wrong, next to the field, and no request goes out.
      const asked: string[] = [];
      page.on('request', (r) => {
        if (new URL(r.url()).pathname.startsWith('/query/')) asked.push(r.url());
      });
      const german29 = range.to.split('-').reverse().join('.');
      for (const [field, text, problem] of [
        [from, german29, new RegExp(`^From “${german29.replaceAll('.', '\\.')}” is not written YYYY-MM-DD`)],
        [to, '2026-02-30', /^To “2026-02-30” is no calendar day\.$/],
        [from, '', /^From is empty/],
      ] as const) {
        await type(field, text);
        if (text === '') await page.keyboard.press('Backspace');
        await page.getByRole('button', { name: 'Apply' }).click();
        await expect.poll(() => page.locator('#range-problem').textContent()).toMatch(problem);
        expect(await page.locator('#range-problem').getAttribute('role')).toBe('alert');
        expect(await field.getAttribute('aria-invalid')).toBe('true');
        expect(await page.evaluate('document.activeElement?.id')).toBe(await field.getAttribute('id'));
        expect(page.url()).toContain(`from=${week}&to=${range.to}`);
        await type(field, field === from ? week : range.to);
      }
      expect(asked).toEqual([]);
      await shot(page, 'range-problem-de');
      await german.close();
    } finally {
      await browser.close();
    }
  }, 90_000);

  it('on a phone (375x667) the header takes at most a fifth of the screen, the range, every view and Sign out in sight', async () => {
    const page = await open(`#token=${ADMIN_TOKEN}`);
    await page.setViewportSize({ width: 375, height: 667 });
    try {
      await page.locator('[data-test="tile-active"]').waitFor();
      await settled(page);
      const header = (await page.locator('header.top').boundingBox())!;
      expect(header.height).toBeLessThanOrEqual(667 * 0.2);
      const controls = [
        ...['Overview', 'Connectors', 'Events', 'Metrics', 'Clusters'].map((name) =>
          page.getByRole('navigation', { name: 'Views' }).getByRole('link', { name, exact: true }),
        ),
        page.getByLabel('From', { exact: true }),
        page.getByLabel('To', { exact: true }),
        ...['Apply', '7 days', '30 days', '90 days', 'Sign out'].map((name) =>
          page.getByRole('button', { name, exact: true }),
        ),
      ];
      for (const control of controls) {
        const box = (await control.boundingBox())!;
        const name = (await control.textContent()) || (await control.getAttribute('id'));
        // Whole, inside the header and the screen, and big enough to tap (WCAG 2.5.8: 24px).
        expect(box, `${name}`).not.toBeNull();
        expect(box.x, `${name}`).toBeGreaterThanOrEqual(0);
        expect(box.x + box.width, `${name}`).toBeLessThanOrEqual(375);
        expect(box.y, `${name}`).toBeGreaterThanOrEqual(header.y);
        expect(box.y + box.height, `${name}`).toBeLessThanOrEqual(header.y + header.height);
        expect(box.height, `${name}`).toBeGreaterThanOrEqual(24);
      }
      expect(await page.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(375);
      await shot(page, 'phone-overview');
    } finally {
      await page.close();
    }
  }, 90_000);

  it('a wrong token shows the sign-in form with a message', async () => {
    const bad = await open(`#token=${ADMIN_TOKEN}%E2%80%99`);
    await bad.getByRole('form', { name: 'Sign in to Tidewatch' }).waitFor();
    expect(await bad.locator('[data-test="signin-message"]').textContent()).toMatch(
      /a character no token has/,
    );
    await bad.close();
    const page = await open('#token=wrong-token-0000000000000000');
    const form = page.getByRole('form', { name: 'Sign in to Tidewatch' });
    await form.waitFor();
    expect(await page.locator('[data-test="signin-message"]').textContent()).toMatch(
      /unknown, revoked or expired/,
    );
    expect(page.url()).not.toContain('wrong-token');
    expect(await page.evaluate(`sessionStorage.getItem('tidewatch.token')`)).toBeNull();
    await page.getByLabel('Access token').fill('another-wrong-token-00000');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect
      .poll(() => page.locator('[data-test="signin-message"]').textContent())
      .toMatch(/not accepted/);
    await shot(page, 'signin');
    // Where a token comes from, and that a new tab asks again (it is kept for this tab only).
    const help = (await page.locator('#token-help').textContent()) ?? '';
    expect(help).toContain('npx tidewatch token create --role read');
    expect(help).toMatch(/this browser tab only \(session storage\): a new tab or window asks for it again/);
    // A token no header can carry (a curly quote from copying it) is a wrong token, not a collector
    // that did not answer.
    await page.getByLabel('Access token').fill(`${ADMIN_TOKEN}\u2019`);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect
      .poll(() => page.locator('[data-test="signin-message"]').textContent())
      .toMatch(/a character no token has/);
    // The right token, pasted, signs in.
    await page.getByLabel('Access token').fill(ADMIN_TOKEN);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('[data-test="tile-active"]').waitFor();
    await page.close();
  }, 90_000);

  it('shows the same numbers as the API for a fleet made by `tidewatch simulate`', async () => {
    const sim = await startTestCollector(`sqlite:${join(dir.path, 'simulated.db')}`);
    try {
      const bin = join(ROOT, 'packages/cli/bin/tidewatch.js');
      // The real command, through POST /admin/import: a month of a 40-cluster fleet.
      const args = ['simulate', '--clusters', '40', '--days', '30', '--seed', '7', '--agents'];
      // Asynchronously: the collector runs in this process and must keep serving meanwhile.
      await promisify(execFile)(process.execPath, [
        bin,
        ...args,
        '--target',
        sim.url,
        '--token',
        ADMIN_TOKEN,
      ]);
      const page = await context.newPage();
      await page.goto(`${sim.url}/#token=${ADMIN_TOKEN}`);
      await page.locator('[data-test="tile-active"]').waitFor();
      await page.evaluate(
        `window.location.hash = ${JSON.stringify(`#/overview?from=${range.from}&to=${range.to}`)}`,
      );
      await settled(page);
      const overview = await api<{ clusters: Record<'active' | 'new' | 'silent' | 'total', number> }>(
        sim,
        q('/query/overview'),
      );
      expect(overview.clusters.total).toBeGreaterThan(20);
      for (const key of ['active', 'new', 'silent', 'total'] as const) {
        expect(await page.locator(`[data-test="tile-${key}"]`).textContent(), key).toBe(
          formatCount(overview.clusters[key]),
        );
      }
      const versions = await api<{ rows: { value: string | null; clusters: number }[] }>(
        sim,
        q('/query/breakdown', '&by=version'),
      );
      const shown = await page
        .locator('[data-test="breakdown-version"] tbody tr')
        .evaluateAll((rows) =>
          rows.map((r) => [r.children[0]?.textContent ?? '', r.children[1]?.textContent ?? '']),
        );
      expect(shown).toEqual(versions.rows.map((r) => [label(r.value), formatCount(r.clusters)]));
      // Every active cluster is in the breakdown once, and the page says what "unknown" holds.
      expect(versions.rows.reduce((sum, r) => sum + r.clusters, 0)).toBe(overview.clusters.active);
      expect(await page.locator('[data-test="shape-note"]').textContent()).toContain('no meta report');
      // The clusters with the most recoveries, as the collector ranks them over the whole range,
      // each share of all recoveries in it.
      const top = await api<{ rows: { value: string; events: number }[] }>(
        sim,
        q('/query/event-counts', '&by=trackingId&stage=recovery&limit=10'),
      );
      const allRecoveries = await api<{ rows: { events: number }[] }>(
        sim,
        q('/query/event-counts', '&by=stage&stage=recovery'),
      );
      const recoveries = allRecoveries.rows.reduce((sum, r) => sum + r.events, 0);
      expect(top.rows.length).toBeGreaterThan(1);
      await page.evaluate(
        `window.location.hash = ${JSON.stringify(`#/events?from=${range.from}&to=${range.to}`)}`,
      );
      await settled(page);
      expect(
        await page
          .locator('[data-test="recoveries"] tbody tr')
          .evaluateAll((rows) => rows.map((r) => [0, 1, 2].map((i) => r.children[i]?.textContent ?? ''))),
      ).toEqual(top.rows.map((r) => [r.value, formatCount(r.events), formatPercent(r.events, recoveries)]));
      await page.evaluate(
        `window.location.hash = ${JSON.stringify(`#/overview?from=${range.from}&to=${range.to}`)}`,
      );
      await settled(page);
      // Sizes: the compute-node distribution, bucket for bucket, and its percentiles.
      const nodes = await api<{
        buckets: { from: number; to: number; clusters: number }[];
        p50: number;
        p90: number;
      }>(sim, q('/query/distribution', '&of=computeNodes'));
      expect(nodes.buckets.length).toBeGreaterThan(1);
      const rowsOf = (testId: string) =>
        page
          .locator(`[data-test="${testId}"] tbody tr`)
          .evaluateAll((rows) =>
            rows.map((r) => [r.children[0]?.textContent ?? '', r.children[1]?.textContent ?? '']),
          );
      expect(await rowsOf('distribution-computeNodes')).toEqual(
        nodes.buckets.map((b) => [
          b.from === b.to ? formatCount(b.from) : `${formatCount(b.from)}–${formatCount(b.to)}`,
          formatCount(b.clusters),
        ]),
      );
      expect(await page.locator('[data-test="percentiles-computeNodes"]').textContent()).toContain(
        `p50 ${formatCount(nodes.p50)} · p90 ${formatCount(nodes.p90)}`,
      );
      // Release pickup: one row per release, with the API's share on the last day.
      const adoption = await api<{ releases: { version: string; latestShare: number }[] }>(
        sim,
        q('/query/adoption'),
      );
      expect(adoption.releases.length).toBeGreaterThan(1);
      expect(
        await page
          .locator('[data-test="adoption"] tbody tr')
          .evaluateAll((rows) =>
            rows.map((r) => [r.children[0]?.textContent ?? '', r.lastElementChild?.textContent ?? '']),
          ),
      ).toEqual(adoption.releases.map((r) => [r.version, formatShare(r.latestShare)]));
      await shot(page, 'simulated-overview');

      // Connectors by format and encode.
      await page.evaluate(
        `window.location.hash = ${JSON.stringify(`#/connectors?from=${range.from}&to=${range.to}`)}`,
      );
      await settled(page);
      const usage = await api<{
        sources: { connector: string; format: string; encode: string; clusters: number }[];
      }>(sim, q('/query/connectors'));
      expect(usage.sources.length).toBeGreaterThan(0);
      expect(
        await page
          .locator('[data-test="connector-sources"] tbody tr')
          .evaluateAll((rows) =>
            rows.map((r) => [...r.children].slice(0, 4).map((c) => c.textContent ?? '')),
          ),
      ).toEqual(
        usage.sources.map((r) => [
          label(r.connector),
          label(r.format),
          label(r.encode),
          formatCount(r.clusters),
        ]),
      );
      await shot(page, 'simulated-connectors');

      // One cluster's history and sessions: the most recently seen one with a meta report (the
      // newest cluster may so far have sent only a compute node's report, depending on the hour).
      const listed = await api<{ clusters: { trackingId: string; version: string | null }[] }>(
        sim,
        '/query/clusters?limit=50',
      );
      const id = listed.clusters.find((c) => c.version !== null)!.trackingId;
      await page.evaluate(
        `window.location.hash = ${JSON.stringify(`#/cluster/${id}?from=${range.from}&to=${range.to}`)}`,
      );
      await settled(page);
      const history = await api<{ days: { day: string; version: string }[]; sessions: unknown[] }>(
        sim,
        q(`/query/clusters/${id}/history`),
      );
      expect(history.days.length).toBeGreaterThan(0);
      expect(
        await page
          .locator('[data-test="cluster-history"] tbody tr')
          .evaluateAll((rows) =>
            rows.map((r) => [r.children[0]?.textContent ?? '', r.children[1]?.textContent ?? '']),
          ),
      ).toEqual([...history.days].reverse().map((d) => [d.day, label(d.version)]));
      expect(await page.locator('[data-test="cluster-sessions"] tbody tr').count()).toBe(
        history.sessions.length,
      );
      await shot(page, 'simulated-cluster');

      // The metrics view suggests every metric name the agents sent.
      await page.evaluate(`window.location.hash = '#/metrics'`);
      await settled(page);
      const names = await api<{ metrics: { name: string }[] }>(sim, '/query/metrics');
      expect(names.metrics.length).toBeGreaterThan(0);
      await expect
        .poll(() =>
          page
            .locator('[data-test="metric-names"] option')
            .evaluateAll((o) => o.map((x) => x.getAttribute('value'))),
        )
        .toEqual(names.metrics.map((m) => m.name));
      await page.close();
    } finally {
      await sim.close();
    }
  }, 240_000);

  it('an address of no page shows the overview under its own address, and says so', async () => {
    const page = await open(`#token=${ADMIN_TOKEN}`);
    try {
      await page.locator('[data-test="tile-active"]').waitFor();
      await go(page, `#/clusters?from=${range.from}&to=${range.to}`);
      const note = page.getByRole('status').filter({ hasText: 'There is no page' });
      await note.waitFor();
      expect(await note.textContent()).toBe('There is no page “clusters”: this is the overview.');
      // The overview's address, the range kept (a default range is left out of it).
      expect(new URL(page.url()).hash).toMatch(/^#\/overview(\?|$)/);
      await page.locator('[data-test="tile-active"]').waitFor();
    } finally {
      await page.close();
    }
  });

  it('says the collector did not answer when it is gone, not the browser\'s "Failed to fetch"', async () => {
    const gone = await startTestCollector(`sqlite:${join(dir.path, 'gone.db')}`);
    const page = await context.newPage();
    try {
      await page.goto(`${gone.url}/#token=${ADMIN_TOKEN}`);
      await page.locator('[data-test="empty-state"]').waitFor();
      await gone.close();
      await page.evaluate(`window.location.hash = '#/cluster'`);
      const alert = page.getByRole('alert').first();
      await alert.waitFor();
      expect(await alert.textContent()).toMatch(/^Could not load this: The collector did not answer/);
    } finally {
      await page.close();
    }
  });

  it("shows each event's node and RisingWave's unspecified stage as the filter names it", async () => {
    const own = await startTestCollector(`sqlite:${join(dir.path, 'event-nodes.db')}`);
    const page = await context.newPage();
    try {
      const trackingId = 'event-nodes-0001';
      const now = Math.floor(Date.now() / 1000);
      const res = await own.postProto(
        '/api/v2/report/events',
        eventBatch([
          // A license check, as RisingWave 2.x sends one.
          {
            trackingId,
            name: 'TimeTravel',
            stage: 0,
            node: 'paywall',
            connectorName: null,
            eventTimeSec: now,
          },
          { trackingId, name: 'source', eventTimeSec: now - 60 },
        ]),
      );
      expect(res.status).toBe(200);
      await page.goto(`${own.url}/#token=${ADMIN_TOKEN}`);
      await page.evaluate(`window.location.hash = '#/events'`);
      const rows = page.locator('table.events tbody tr');
      await expect.poll(() => rows.count()).toBe(2);
      const headers = await page.locator('table.events thead th').allTextContents();
      expect(headers).toEqual([
        'Received',
        'Cluster',
        'Stage',
        'Name',
        'Node',
        'Connector',
        'Object',
        'Attributes',
      ]);
      const cells = (i: number) => rows.nth(i).locator('td').allTextContents();
      expect((await cells(0)).slice(2, 6)).toEqual(['unspecified', 'TimeTravel', 'paywall', '—']);
      expect((await cells(1)).slice(2, 6)).toEqual(['create_stream_job', 'source', 'meta', 'kafka']);
      // The cluster's own clock, on the receive time.
      expect(await rows.nth(0).locator('time').getAttribute('title')).toMatch(/^cluster clock: \d{4}-/);
    } finally {
      await page.close();
      await own.close();
    }
  }, 90_000);

  it('an empty collector shows how to send a first report', async () => {
    const page = await context.newPage();
    await page.goto(`${empty.url}/#token=${ADMIN_TOKEN}`);
    const state = page.locator('[data-test="empty-state"]');
    await state.waitFor();
    const text = (await state.textContent()) ?? '';
    expect(text).toContain(`curl -X POST ${empty.url}/api/v2/report/meta`);
    // RisingWave's telemetry address is fixed in its code: the page says which, not "point it here".
    expect(text).toContain('https://telemetry.risingwave.dev/api/v2/report/');
    // Copied into a shell, the commands run: their line continuations are real line breaks.
    expect(text).toContain(" \\\n  -H 'Content-Type: application/x-protobuf'");
    expect(text).not.toContain('⟨U+');
    expect(text).toContain(
      `npx tidewatch simulate --clusters 200 --days 60 --target ${empty.url} --token <your admin token>`,
    );
    // The page may be on a shared screen: the token is never printed.
    expect(await page.content()).not.toContain(ADMIN_TOKEN);
    await shot(page, 'empty');
    // The cluster list of an empty store says so, not "no match" for a search nobody made.
    await page.evaluate(`window.location.hash = '#/cluster'`);
    const none = page.locator('[data-test="clusters-none"]');
    await none.waitFor();
    expect(await none.textContent()).toBe('No cluster has reported yet.');
    await page.evaluate(`window.location.hash = '#/cluster?search=zzz'`);
    await expect.poll(() => none.textContent()).toBe('No cluster matches.');
    await page.close();
  });

  it('keeps data of any length or direction inside its cards, and a past range is not an empty collector', async () => {
    const hostile = await startTestCollector(`sqlite:${join(dir.path, 'hostile.db')}`);
    try {
      const long = 'v'.repeat(1024); // no space to break at
      const rlo = '\u202E2.6.2\u001B-rlo'; // a right-to-left override, never closed, and an ESC
      const ids = { long: 'hostile-long-0001', rlo: 'hostile-rlo-0001' };
      // Extremes too: the most compute nodes a report can say, and 2^53-1 bytes of memory.
      const extremes = { computeNodes: 4_294_967_295, memoryTotal: Number.MAX_SAFE_INTEGER };
      for (const [id, version] of [
        [ids.long, long],
        // Two more clusters on the long version put it among the breakdown's top rows.
        [`${ids.long}-b`, long],
        [`${ids.long}-c`, long],
        [ids.rlo, rlo],
      ] as const) {
        const res = await hostile.postProto(
          '/api/v2/report/meta',
          metaReport({ trackingId: id, version, ...extremes }),
        );
        expect(res.status).toBe(200);
      }
      // Ids anyone can report: 100 lookalikes seen after the real one.
      const real = 'hostile-real-858abc62';
      for (const id of [real, ...Array.from({ length: 100 }, (_, i) => `${i}.${real}`)]) {
        const version = id === real ? '9.9.9\u{E0041}\u00AD' : '9.9.9';
        expect(
          (await hostile.postProto('/api/v2/report/meta', metaReport({ trackingId: id, version }))).status,
        ).toBe(200);
      }
      // More versions than a breakdown lists (nightly builds): the rest are summed in one row.
      for (let i = 0; i < 35; i++) {
        const res = await hostile.postProto(
          '/api/v2/report/meta',
          metaReport({ trackingId: `hostile-many-${i}`, version: `9.0.${i}\u200B` }),
        );
        expect(res.status).toBe(200);
      }
      const events = eventBatch([{ trackingId: ids.long, connectorName: 'c'.repeat(1024) }]);
      expect((await hostile.postProto('/api/v2/report/events', events)).status).toBe(200);
      // An agent's extreme counter, and a label that is empty beside series without it.
      const longName = `m${'.x'.repeat(63)}z`.slice(0, 128); // the longest metric name there is
      const metrics = [
        counter(longName, 1),
        counter('huge.counter', 1e300),
        counter('lab.counter', 2, { k: '' }),
        counter('lab.counter', 3),
      ];
      const agent = encodeReportJson(agentReport({ trackingId: ids.long, metrics }));
      expect(
        (await hostile.post('/api/v3/report', agent, { 'content-type': 'application/json' })).status,
      ).toBe(200);

      const page = await context.newPage();
      const pageErrors: string[] = [];
      page.on('pageerror', (e) => pageErrors.push(e.message));
      await page.goto(`${hostile.url}/#token=${ADMIN_TOKEN}`);
      await settled(page);
      const overflow = () => page.evaluate('document.documentElement.scrollWidth - window.innerWidth');
      const views = [
        `#/overview?from=${range.from}&to=${range.to}`,
        `#/connectors?from=${range.from}&to=${range.to}`,
        `#/events?from=${range.from}&to=${range.to}`,
        `#/cluster/${ids.long}?from=${range.from}&to=${range.to}`,
        `#/metrics?from=${range.from}&to=${range.to}&name=huge.counter&by=trackingId`,
        `#/metrics?from=${range.from}&to=${range.to}&name=${longName}&by=version`,
      ];
      for (const width of [1280, 375]) {
        await page.setViewportSize({ width, height: 900 });
        for (const view of views) {
          await go(page, view);
          expect(await overflow(), `${view} at ${width} px`).toBeLessThanOrEqual(0);
        }
      }
      await shot(page, 'hostile-cluster-375');
      // Big numbers in the cluster's history are grouped, as everywhere else.
      await go(page, `#/cluster/${ids.long}?from=${range.from}&to=${range.to}`);
      const historyRow = await page
        .locator('[data-test="cluster-history"] tbody tr')
        .first()
        .evaluate((r) => [...r.children].map((c) => c.textContent));
      expect(historyRow).toContain('1 / 4,294,967,295 / 2 / 1');
      expect(historyRow).toContain('8,388,608 GiB');

      // The filter note isolates the value: its override cannot mirror the note's own text.
      await page.setViewportSize({ width: 1280, height: 900 });
      await go(page, `#/cluster?version=${encodeURIComponent(rlo)}`);
      const value = page.locator('p.muted .value').first();
      // The override is shown as what it is, so it reorders nothing (a value read "gpj.exe").
      expect(await value.textContent()).toBe('⟨U+202E⟩2.6.2⟨U+001B⟩-rlo');
      const bidiOf = (e: unknown) =>
        (globalThis as unknown as { getComputedStyle(e: unknown): { unicodeBidi: string } }).getComputedStyle(
          e,
        ).unicodeBidi;
      expect(await value.evaluate(bidiOf)).toBe('isolate');

      // Thousands of versions would be thousands of rows: 30 at most, the last summing the rest; a
      // zero-width space is shown, so two versions that differ only by one do not look alike.
      await go(page, `#/overview?from=${range.from}&to=${range.to}`);
      const versionRows = await page
        .locator('[data-test="breakdown-version"] tbody tr')
        .evaluateAll((rows) => rows.map((r) => r.children[0]?.textContent ?? ''));
      expect(versionRows).toHaveLength(30);
      expect(versionRows.at(-1)).toMatch(/^\d+ other values$/);
      expect(versionRows.some((v) => /^9\.0\.\d+⟨U\+200B⟩$/.test(v))).toBe(true);
      // A linked value is cut like text: a 1,024-character version does not make its card 4,000 px tall.
      const longLink = page.locator('[data-test="breakdown-version"] a[title]').first();
      expect((await longLink.textContent())!.length).toBe(161);
      expect((await longLink.getAttribute('title'))!.length).toBe(1024);
      // The adoption chart's legend (text set by uPlot) shows them alike, and cuts a long version.
      const legend = await page
        .locator('.u-legend .u-series .u-label')
        .evaluateAll((labels) => labels.map((l) => l.textContent ?? ''));
      expect(legend.some((v) => /^9\.0\.\d+⟨U\+200B⟩$/.test(v))).toBe(true);
      expect(legend.filter((v) => /[\u200B-\u200F\u202A-\u202E\u2066-\u2069]/.test(v))).toEqual([]);
      expect(Math.max(...legend.map((v) => v.length))).toBeLessThanOrEqual(41);
      // A 1,024-character connector is cut in its cell and whole in the tooltip.
      await go(page, `#/events?from=${range.from}&to=${range.to}`);
      const cut = page.locator('td span[title]', { hasText: 'ccc' }).first();
      expect((await cut.textContent())!.length).toBe(161);
      expect((await cut.getAttribute('title'))!.length).toBe(1024);

      // Huge values in compact notation; an empty label value apart from a missing label.
      await go(page, `#/metrics?from=${range.from}&to=${range.to}&name=huge.counter&by=trackingId`);
      expect(await page.locator('table.data').first().textContent()).toContain('1.000e+300');
      await go(page, `#/metrics?from=${range.from}&to=${range.to}&name=lab.counter&by=label:k`);
      const groups = await page
        .locator('table.data')
        .first()
        .locator('tbody tr')
        .evaluateAll((rows) => rows.map((r) => r.children[0]?.textContent ?? ''));
      expect(groups.sort()).toEqual(['(empty)', 'unknown']);

      // The charts' day labels sit on UTC midnights, where the points are, for any range.
      for (const days of [7, 14, 30, 90]) {
        const from = isoDay(Date.now() - (days - 1) * 86_400_000);
        await go(page, `#/overview?from=${from}&to=${isoDay(Date.now())}`);
        const ticks = await page
          .locator('[data-day-ticks]')
          .evaluateAll((plots) => plots.map((p) => p.getAttribute('data-day-ticks') ?? ''));
        expect(ticks.length, `${days} days`).toBeGreaterThan(0);
        for (const tick of ticks.join(' ').split(' ').map(Number)) {
          expect(tick % 86_400, `${days} days: ${tick}`).toBe(0);
        }
      }
      // Over 400 days the labels cross a new year: the first label and the first of each year say
      // the year, the others MM-DD.
      await go(page, `#/overview?from=${isoDay(Date.now() - 399 * 86_400_000)}&to=${isoDay(Date.now())}`);
      const labels = (await page.locator('[data-day-labels]').first().getAttribute('data-day-labels'))!.split(
        ' ',
      );
      const ticks = (await page.locator('[data-day-ticks]').first().getAttribute('data-day-ticks'))!
        .split(' ')
        .map((t) => isoDay(Number(t) * 1000));
      expect(labels[0]).toBe(ticks[0]);
      for (let i = 1; i < labels.length; i++) {
        const newYear = ticks[i]!.slice(0, 4) !== ticks[i - 1]!.slice(0, 4);
        expect(labels[i]).toBe(newYear ? ticks[i] : ticks[i]!.slice(5));
      }
      expect(labels.filter((l) => l.length === 10).length).toBeGreaterThanOrEqual(2);

      // Searching the exact id finds it past 100 lookalikes seen more recently.
      await go(page, '#/cluster');
      await page.fill('#c-search', real);
      await page.click('button:has-text("Find cluster")');
      await expect
        .poll(() => page.evaluate('window.location.hash'))
        .toMatch(/^#\/cluster\/hostile-real-858abc62/);
      await settled(page);
      // Tag characters and a soft hyphen are shown: its version does not pass for 9.9.9.
      expect(await page.locator('main').textContent()).toContain('9.9.9⟨U+E0041⟩⟨U+00AD⟩');

      // "." is part of over 100 ids but no id itself (no URL can name it): a list, not an error.
      await go(page, '#/cluster');
      await page.fill('#c-search', '.');
      await page.click('button:has-text("Find cluster")');
      await page.waitForURL(/search=\./);
      await settled(page);
      expect(await page.locator('main .error').count()).toBe(0);
      expect(await page.locator('main').textContent()).toContain(`0.${real}`);

      // "Skip to content" moves the focus and keeps the view and its filters.
      const filtered = `#/events?from=${range.from}&to=${range.to}&stage=recovery`;
      await go(page, filtered);
      await page.focus('a.skip');
      await page.keyboard.press('Enter');
      expect(await page.evaluate('window.location.hash')).toBe(filtered);
      expect(await page.evaluate('document.activeElement.id')).toBe('main');

      // Ranges the API would refuse (inverted, over 400 days, an impossible day, before 1970 or
      // after 2105) are made usable: data, not an error in every panel.
      for (const bad of [
        'from=2026-11-27&to=2026-01-01',
        'from=2020-01-01&to=2026-11-27',
        'from=2026-02-31&to=2026-03-05',
        'from=1969-12-01&to=1969-12-31',
        'from=2106-01-01&to=2999-12-31',
      ]) {
        await go(page, `#/overview?${bad}`);
        expect(await page.locator('[role="alert"]').count(), bad).toBe(0);
      }

      // A range before the first report: zero tiles, not the first-report instructions.
      await go(page, '#/overview?from=2020-01-01&to=2020-01-31');
      expect(await page.locator('[data-test="empty-state"]').count()).toBe(0);
      expect(await page.content()).not.toContain(ADMIN_TOKEN);
      expect(pageErrors).toEqual([]);
      await page.close();
    } finally {
      await hostile.close();
    }
  }, 120_000);

  /** A collector of its own for one test, and a signed-in page on it; both closed by `use`'s end. */
  async function withOwn(
    name: string,
    use: (own: TestCollector, page: Page) => Promise<void>,
  ): Promise<void> {
    const own = await startTestCollector(`sqlite:${join(dir.path, `${name}.db`)}`);
    const page = await context.newPage();
    page.on('pageerror', (e) => consoleErrors.push(e.message));
    try {
      await use(own, page);
    } finally {
      await page.close();
      await own.close();
    }
  }

  async function sendAgent(
    own: TestCollector,
    report: Parameters<typeof encodeReportJson>[0],
  ): Promise<void> {
    const res = await own.post('/api/v3/report', encodeReportJson(report), {
      'content-type': 'application/json',
    });
    expect(res.status).toBe(200);
    await own.collector.batcher.flush();
  }

  it('shows metric values in the unit the agents reported, never one guessed from the name', async () => {
    await withOwn('units', async (own, page) => {
      const ms = Array.from({ length: 50 }, (_, i) => 5 + i); // 5–54 ms
      await sendAgent(
        own,
        agentReport({
          trackingId: 'units-0001',
          metrics: [
            { ...histogram('db.query.duration_ms', ms), unit: 'ms' },
            { ...counter('request.timeouts', 3), unit: '{timeout}' },
            { ...gauge('payload.size', 1536), unit: 'By' },
          ],
        }),
      );
      await page.goto(`${own.url}/#token=${ADMIN_TOKEN}`);
      await settled(page);
      const cells = () => page.locator('table.metrics tbody tr').first().locator('td').allTextContents();

      await go(page, '#/metrics?name=db.query.duration_ms');
      const duration = await api<{ rows: { p50: number; p99: number; relativeError: number }[] }>(
        own,
        '/query/metrics/db.query.duration_ms',
      );
      const p50 = duration.rows[0]!.p50;
      expect(p50).toBeGreaterThan(5);
      expect(p50).toBeLessThan(54);
      const row = await cells();
      expect(row[3]).toBe(unitFormat('ms')(p50));
      expect(row[3]).toMatch(/^\d+(\.\d+)? ms$/);
      expect(row[5]).toBe(unitFormat('ms')(duration.rows[0]!.p99));
      // Quantiles of merged histograms are approximate, and the table says how much: the API's bound.
      const bound = duration.rows[0]!.relativeError * 100;
      const said = /p50, p90 and p99 within ±([\d.]+)% of the exact values$/.exec(
        (await page.locator('table.metrics caption').textContent())!,
      );
      expect(Number(said?.[1])).toBeCloseTo(bound, 1);

      await go(page, '#/metrics?name=request.timeouts');
      expect((await cells()).slice(1)).toEqual(['1', '3']);

      await go(page, '#/metrics?name=payload.size');
      expect((await cells())[2]).toBe('1.5 KiB');
    });
  }, 90_000);

  /** Reports received on an earlier day, through POST /admin/import (the public routes stamp now). */
  async function importMeta(
    own: TestCollector,
    lines: { trackingId: string; version?: string; daysAgo: number }[],
  ) {
    const ndjson = lines
      .map((l) =>
        JSON.stringify({
          receivedAt: Date.now() - l.daysAgo * 86_400_000,
          path: '/api/v2/report/meta',
          contentType: 'application/x-protobuf',
          body: Buffer.from(metaReport({ trackingId: l.trackingId, version: l.version ?? '2.4.1' })).toString(
            'base64',
          ),
        }),
      )
      .join('\n');
    const res = await own.post('/admin/import', ndjson, {
      authorization: `Bearer ${ADMIN_TOKEN}`,
      'content-type': 'application/x-ndjson',
    });
    expect(res.status, await res.clone().text()).toBe(200);
  }

  it('pagers keep the filters, and the cluster list is of the range it shows', async () => {
    await withOwn('pagers', async (own, page) => {
      const now = Math.floor(Date.now() / 1000);
      const id = 'pager-0001';
      // 130 `source` events and 20 others: the second page of `name=source` holds only sources.
      const events = Array.from({ length: 150 }, (_, i) => ({
        trackingId: id,
        name: i < 130 ? 'source' : 'mv',
        eventTimeSec: now - i,
      }));
      expect((await own.postProto('/api/v2/report/events', eventBatch(events))).status).toBe(200);
      // 55 clusters on 3.0.0 and 10 on 3.1.0: two pages of 3.0.0 at 50 a page.
      await importMeta(own, [
        ...Array.from({ length: 55 }, (_, i) => ({
          trackingId: `pager-v30-${i}`,
          version: '3.0.0',
          daysAgo: 0,
        })),
        ...Array.from({ length: 10 }, (_, i) => ({
          trackingId: `pager-v31-${i}`,
          version: '3.1.0',
          daysAgo: 0,
        })),
        // Seen last 60 days ago: not in the last 30 days.
        { trackingId: 'pager-old-0001', version: '3.0.0', daysAgo: 60 },
      ]);
      await own.collector.batcher.flush();
      await page.goto(`${own.url}/#token=${ADMIN_TOKEN}`);
      await settled(page);

      await go(page, `#/events?name=source&from=${range.from}&to=${range.to}`);
      await page.getByRole('link', { name: 'Older events →' }).click();
      await page.waitForURL(/before=/);
      await settled(page);
      expect(page.url()).toContain('name=source');
      expect(await page.locator('#f-name').inputValue()).toBe('source');
      const names = await page.locator('table.events tbody tr td:nth-child(4)').allTextContents();
      expect(names).toHaveLength(30);
      expect(new Set(names)).toEqual(new Set(['source']));
      await page.getByRole('link', { name: '← Newest' }).click();
      await expect.poll(() => page.url()).not.toContain('before=');
      expect(page.url()).toContain('name=source');

      await go(page, '#/cluster?version=3.0.0');
      const caption = await page.locator('table.data caption').textContent();
      expect(caption).toContain(`seen on or after ${range.from}`);
      await page.getByRole('link', { name: 'More clusters →' }).click();
      await page.waitForURL(/before=/);
      await settled(page);
      expect(page.url()).toContain('version=3.0.0');
      const versions = await page.locator('table.data tbody tr td:nth-child(2)').allTextContents();
      // The 55 clusters of the range, not the one seen 60 days ago.
      expect(versions).toEqual(Array.from({ length: 5 }, () => '3.0.0'));
      // A range that holds it lists it.
      await go(page, `#/cluster?version=3.0.0&from=${isoDay(Date.now() - 90 * 86_400_000)}&to=${range.to}`);
      await page.getByRole('link', { name: 'More clusters →' }).click();
      await page.waitForURL(/before=/);
      await settled(page);
      expect(await page.locator('table.data tbody tr', { hasText: 'pager-old-0001' }).count()).toBe(1);
    });
  }, 90_000);

  /** The version chart's legend: each band's label and the colour it is drawn in. */
  function bandColours(page: Page): Promise<[string, string][]> {
    return page
      .locator('section.panel', { hasText: 'Version adoption' })
      .locator('.u-legend .u-series')
      .evaluateAll((rows) =>
        rows.slice(1).map((r): [string, string] => {
          const marker = r.querySelector('.u-marker');
          const style = marker?.ownerDocument.defaultView?.getComputedStyle(marker);
          return [r.querySelector('.u-label')?.textContent ?? '', style?.backgroundColor ?? ''];
        }),
      );
  }

  /** How many pixels of a panel's chart are drawn in each of these colours (`rgb(r, g, b)`). */
  function pixelsOf(page: Page, panelTitle: string, colours: string[]): Promise<number[]> {
    return page
      .locator('section.panel', { hasText: panelTitle })
      .locator('canvas')
      .first()
      .evaluate((canvas, wanted) => {
        const { data } = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height);
        const counts = wanted.map(() => 0);
        for (let i = 0; i < data.length; i += 4) {
          const k = wanted.indexOf(`rgb(${data[i]}, ${data[i + 1]}, ${data[i + 2]})`);
          if (k >= 0 && data[i + 3] === 255) counts[k]!++;
        }
        return counts;
      }, colours);
  }

  /**
   * Versions whose ranks swap: ten days ago 7.1.0 leads and 7.4.0 trails, three days ago the other
   * way round. Nine versions ten days ago (23 clusters): seven bands and one of the other two.
   */
  async function importRankSwap(own: TestCollector): Promise<void> {
    const clustersOn = (daysAgo: number, counts: [string, number][]) =>
      counts.flatMap(([version, n]) =>
        Array.from({ length: n }, (_, i) => ({
          trackingId: `rank-${daysAgo}-${version}-${i}`,
          version,
          daysAgo,
        })),
      );
    await importMeta(own, [
      ...clustersOn(10, [
        ['7.1.0', 6],
        ['7.2.0', 5],
        ['7.3.0', 4],
        ['7.4.0', 3],
        ...['7.5.0', '7.6.0', '7.7.0', '7.8.0', '7.9.0'].map((v): [string, number] => [v, 1]),
      ]),
      ...clustersOn(3, [
        ['7.4.0', 6],
        ['7.3.0', 5],
        ['7.2.0', 4],
        ['7.1.0', 3],
      ]),
    ]);
    await own.collector.batcher.flush();
  }

  const daysAgo = (n: number) => isoDay(Date.now() - n * 86_400_000);

  it('a version keeps its colour from range to range, whatever its rank, and none shares one', async () => {
    await withOwn('colours', async (own, page) => {
      await importRankSwap(own);
      await page.goto(`${own.url}/#token=${ADMIN_TOKEN}`);
      await settled(page);
      const coloursOf = async (from: string, to: string) => {
        await go(page, `#/overview?from=${from}&to=${to}`);
        await expect.poll(async () => (await bandColours(page)).length).toBeGreaterThan(0);
        return bandColours(page);
      };
      const before = await coloursOf(daysAgo(11), daysAgo(9));
      const after = await coloursOf(daysAgo(4), daysAgo(2));
      // The ranks did change (the legend lists the top band first): 7.1.0 first, then last.
      expect(before.slice(-4).map(([v]) => v)).toEqual(['7.4.0', '7.3.0', '7.2.0', '7.1.0']);
      expect(after.map(([v]) => v)).toEqual(['7.1.0', '7.2.0', '7.3.0', '7.4.0']);
      const colourOf = new Map(before);
      for (const [version, colour] of after) expect(colour, version).toBe(colourOf.get(version));
      // Seven versions and the others' band: eight colours, the band its neutral grey.
      expect(before[0]).toEqual(['2 other versions', 'rgb(77, 77, 77)']);
      expect(new Set(before.map(([, c]) => c)).size).toBe(8);
    });
  }, 90_000);

  it('a one-day range draws its day as bars, not a dot, its active count written on it', async () => {
    await withOwn('one-day', async (own, page) => {
      await importRankSwap(own);
      await page.goto(`${own.url}/#token=${ADMIN_TOKEN}`);
      await settled(page);
      const day = daysAgo(10);
      await go(page, `#/overview?from=${day}&to=${day}`);
      const active = await api<{ series: { day: string; clusters: number }[] }>(
        own,
        `/query/active?from=${day}&to=${day}`,
      );
      expect(active.series).toEqual([{ day, clusters: 23 }]);
      const activePanel = page.locator('section.panel', { hasText: 'Active clusters per day' });
      await expect
        .poll(() => activePanel.locator('[data-value-label]').getAttribute('data-value-label'))
        .toBe(formatCount(23));
      // A bar (a dot of 6px was about 30 pixels), and every band of the version chart shows (with
      // one day they had no width): the thinnest, one cluster of 23, a few hundred pixels at least.
      await expect
        .poll(async () => (await pixelsOf(page, 'Active clusters per day', ['rgb(0, 114, 178)']))[0])
        .toBeGreaterThan(2000);
      const bands = await bandColours(page);
      expect(bands).toHaveLength(8);
      const pixels = await pixelsOf(
        page,
        'Version adoption',
        bands.map(([, c]) => c),
      );
      for (const [i, n] of pixels.entries()) expect(n, bands[i]![0]).toBeGreaterThan(200);
      await shot(page, 'overview-one-day');

      // Today, not over: its count so far is written on it.
      await go(page, `#/overview?from=${range.to}&to=${range.to}`);
      await expect
        .poll(() => activePanel.locator('[data-value-label]').getAttribute('data-value-label'))
        .toBe(`${formatCount(0)} so far`);
    });
  }, 90_000);

  it('the cluster list says how many clusters it has, filtered or not, over all its pages', async () => {
    await withOwn('cluster-total', async (own, page) => {
      await importMeta(own, [
        ...Array.from({ length: 55 }, (_, i) => ({
          trackingId: `total-a-${i}`,
          version: '3.0.0',
          daysAgo: 0,
        })),
        ...Array.from({ length: 3 }, (_, i) => ({
          trackingId: `total-b-${i}`,
          version: '3.1.0',
          daysAgo: 1,
        })),
        { trackingId: 'total-old-0001', version: '3.0.0', daysAgo: 60 },
      ]);
      await own.collector.batcher.flush();
      await page.goto(`${own.url}/#token=${ADMIN_TOKEN}`);
      await settled(page);
      const total = () => page.locator('[data-test="clusters-total"]').textContent();
      const listed = async (query: string) =>
        (await api<{ total: number }>(own, `/query/clusters?seenFrom=${range.from}${query}`)).total;

      await go(page, `#/cluster?from=${range.from}&to=${range.to}`);
      expect(await listed('')).toBe(58);
      expect(await total()).toBe(`58 clusters seen on or after ${range.from}; 50 on this page.`);
      // The next page says the same total.
      await page.getByRole('link', { name: 'More clusters →' }).click();
      await page.waitForURL(/before=/);
      await settled(page);
      expect(await total()).toBe(`58 clusters seen on or after ${range.from}; 8 on this page.`);

      await go(page, `#/cluster?version=3.1.0&from=${range.from}&to=${range.to}`);
      expect(await listed('&version=3.1.0')).toBe(3);
      expect(await total()).toBe(`3 clusters seen on or after ${range.from} match the filters.`);
      await go(
        page,
        `#/cluster?search=total-old&from=${isoDay(Date.now() - 90 * 86_400_000)}&to=${range.to}`,
      );
      expect(await total()).toBe(
        `1 cluster seen on or after ${isoDay(Date.now() - 90 * 86_400_000)} matches the filters.`,
      );
    });
  }, 90_000);

  it('export and search: a revoked token signs out as every panel does, a collector that is down says so', async () => {
    await withOwn('export-errors', async (own, page) => {
      await importMeta(own, [{ trackingId: 'export-0001', daysAgo: 0 }]);
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      const revoke = () =>
        page.evaluate(`sessionStorage.setItem('tidewatch.token', 'tw_revoked_0000000000')`);
      const signInForm = page.getByRole('form', { name: 'Sign in to Tidewatch' });
      const signIn = async () => {
        await page.getByLabel('Access token').fill(ADMIN_TOKEN);
        await page.getByRole('button', { name: 'Sign in' }).click();
        await settled(page);
      };
      await page.goto(`${own.url}/#token=${ADMIN_TOKEN}`);
      await go(page, '#/cluster');

      await revoke();
      await page.getByRole('button', { name: 'Export CSV' }).click();
      await signInForm.waitFor();
      expect(await page.locator('[data-test="signin-message"]').textContent()).toMatch(/^Signed out/);
      await signIn();

      await go(page, '#/cluster');
      await revoke();
      await page.getByLabel('Tracking id').fill('export-0001');
      await page.getByRole('button', { name: 'Find cluster' }).click();
      await signInForm.waitFor();
      expect(await page.locator('[data-test="signin-message"]').textContent()).toMatch(/^Signed out/);
      await signIn();

      await go(page, '#/cluster');
      // The collector gone (the connection refused) when the export is asked for.
      await page.route('**/query/clusters?*format=*', (route) => route.abort('connectionrefused'));
      await page.getByRole('button', { name: 'Export NDJSON' }).click();
      const status = page.locator('[data-test="export-status"]');
      await expect
        .poll(() => status.textContent())
        .toMatch(/^Could not load this: The collector did not answer/);
      expect(errors).toEqual([]);
    });
  }, 90_000);

  it('says what a statistic left out (CI runs), and counts it on request', async () => {
    await withOwn('left-out', async (own, page) => {
      await sendAgent(
        own,
        agentReport({ trackingId: 'ci-run-0001', ci: true, metrics: [counter('ci.only.queries', 7)] }),
      );
      await importMeta(own, [{ trackingId: 'left-out-0001', daysAgo: 0 }]);
      await page.goto(`${own.url}/#token=${ADMIN_TOKEN}`);
      await settled(page);
      const note = page.locator('[data-test="left-out"]');
      // The overview says it once, for every statistic on the page.
      await go(page, '#/overview');
      expect(await note.textContent()).toBe('1 cluster left out: runs under CI · include CI runs');

      await go(page, '#/metrics?name=ci.only.queries');
      expect(await page.locator('[data-test="metric-empty"]').count()).toBe(1);
      expect(await note.textContent()).toBe('1 cluster left out: runs under CI · include CI runs');
      await note.getByRole('link', { name: 'include CI runs' }).click();
      await page.waitForURL(/includeCi=1/);
      await settled(page);
      expect(page.url()).toContain('name=ci.only.queries');
      expect(await page.locator('table.metrics tbody tr td').allTextContents()).toEqual(['0.2.0', '1', '7']);
      expect(await note.textContent()).toBe('Counting CI runs · leave them out');
      // Counting them rides along to the other views, as the range does (a view's filters do not).
      await page.locator('nav a', { hasText: 'Overview' }).click();
      await page.waitForURL(/#\/overview\?includeCi=1$/);
      await settled(page);
      expect(await page.locator('[data-test="tile-active"]').textContent()).toBe('2');
    });
  }, 90_000);

  it('unknown and bad stages, whole attributes in tooltips, no request for a `.` id, grouped bucket bounds', async () => {
    await withOwn('small-things', async (own, page) => {
      const now = Math.floor(Date.now() / 1000);
      const trackingId = 'small-things-0001';
      const stage42 = 42 as rw.TelemetryEventStage; // a stage a newer RisingWave may send
      expect(
        (
          await own.postProto(
            '/api/v2/report/events',
            eventBatch([{ trackingId, stage: stage42, eventTimeSec: now }]),
          )
        ).status,
      ).toBe(200);
      const attributes = JSON.stringify({ note: 'a'.repeat(200) });
      expect(
        (
          await own.postProto(
            '/api/v2/report/event',
            eventMessageWith({ trackingId, eventTimeSec: now - 5, attributes }),
          )
        ).status,
      ).toBe(200);
      const fields = { op: 'create', object: 'table', a: 'x'.repeat(60), b: 'y'.repeat(60) };
      await sendAgent(
        own,
        agentReport({ trackingId, events: [{ name: 'db.ddl', timeMs: Date.now(), fields }] }),
      );
      expect(
        (await own.postProto('/api/v2/report/meta', metaReport({ trackingId, computeNodes: 4_294_967_295 })))
          .status,
      ).toBe(200);
      await own.collector.batcher.flush();
      const requests: string[] = [];
      page.on('request', (r) => requests.push(new URL(r.url()).pathname));
      await page.goto(`${own.url}/#token=${ADMIN_TOKEN}`);
      await settled(page);

      // stage 42 is `unknown_42`: the select shows the filter the address gives.
      await go(page, '#/events?stage=unknown_42');
      expect(await page.locator('#f-stage').inputValue()).toBe('unknown_42');
      expect(await page.locator('table.events tbody tr').count()).toBe(1);
      await go(page, '#/events?stage=bogus');
      expect(await page.locator('[data-test="bad-stage"]').textContent()).toMatch(
        /^“bogus” is no event stage/,
      );
      expect(await page.locator('main').textContent()).not.toContain('pattern');

      // A cut attribute or field is whole in its tooltip.
      await go(page, '#/events');
      const cut = page.locator('table.events td span[title]').first();
      expect(await cut.getAttribute('title')).toBe(attributes);
      expect((await cut.textContent())!.endsWith('…')).toBe(true);
      await go(page, `#/cluster/${trackingId}`);
      const field = page.locator('table.agent-events td span[title]').first();
      expect(await field.getAttribute('title')).toBe(JSON.stringify(fields));

      // `.` and `..` are no tracking id: the page says nothing is stored, without asking
      // /query/clusters/ (or /query/) for it.
      for (const id of ['.', '..']) {
        requests.length = 0;
        await go(page, `#/cluster/${id}`);
        await page.locator('[data-test="cluster-not-found"]').waitFor();
        expect(requests.filter((r) => r === '/query/clusters/' || r === '/query/')).toEqual([]);
        expect(await page.locator('[role="alert"]').count()).toBe(0);
      }

      // Bucket bounds are grouped like the percentiles under them.
      await go(page, '#/overview');
      expect(
        await page.locator('[data-test="distribution-computeNodes"] tbody tr td').first().textContent(),
      ).toBe('2,147,483,649–4,294,967,296');
    });
  }, 90_000);

  it('release pickup: newest first, the most-run releases kept within 30 rows, ≤ on a first day that is where the data starts', async () => {
    await withOwn('pickup', async (own, page) => {
      await importMeta(own, [
        // The release most clusters run, since before any nightly (the first day with data).
        ...[10, 0].flatMap((daysAgo) =>
          Array.from({ length: 3 }, (_, i) => ({
            trackingId: `pickup-main-${i}`,
            version: '2.0.0',
            daysAgo,
          })),
        ),
        // 35 nightly builds of a newer version, one cluster each, today.
        ...Array.from({ length: 35 }, (_, i) => ({
          trackingId: `pickup-nightly-${i}`,
          version: `2.1.0-nightly-${String(i).padStart(2, '0')}`,
          daysAgo: 0,
        })),
      ]);
      await page.goto(`${own.url}/#token=${ADMIN_TOKEN}`);
      await settled(page);
      const adoption = await api<{ releases: { version: string; firstDay: string }[] }>(
        own,
        '/query/adoption',
      );
      expect(adoption.releases[0]!.version).toBe('2.1.0-nightly-34');
      expect(adoption.releases.at(-1)!.version).toBe('2.0.0');
      const rows = await page
        .locator('[data-test="adoption"] tbody tr')
        .evaluateAll((trs) =>
          trs.map((r) => [r.children[0]?.textContent ?? '', r.children[1]?.textContent ?? '']),
        );
      expect(rows).toHaveLength(30);
      expect(rows[0]![0]).toBe('2.1.0-nightly-34');
      expect(rows.at(-1)).toEqual(['2.0.0', `≤ ${isoDay(Date.now() - 10 * 86_400_000)}`]);
      expect(await page.locator('[data-test="adoption-more"]').textContent()).toBe(
        '6 more releases, each at most 3% of active clusters at its peak.',
      );
    });
  }, 90_000);

  it('counts connector events by stage over the whole range, not the latest 1,000', async () => {
    await withOwn('connector-stages', async (own, page) => {
      const now = Math.floor(Date.now() / 1000);
      for (let batch = 0; batch < 4; batch++) {
        const events = Array.from({ length: 300 }, (_, i) => ({
          trackingId: 'stages-0001',
          name: 'source',
          connectorName: 'kafka',
          eventTimeSec: now - batch * 300 - i,
        }));
        expect((await own.postProto('/api/v2/report/events', eventBatch(events))).status).toBe(200);
      }
      const drops = Array.from({ length: 5 }, (_, i) => ({
        trackingId: 'stages-0001',
        name: 'sink',
        connectorName: 'iceberg',
        stage: rw.TelemetryEventStage.DROP_STREAM_JOB,
        eventTimeSec: now - 2000 - i,
      }));
      expect((await own.postProto('/api/v2/report/events', eventBatch(drops))).status).toBe(200);
      await own.collector.batcher.flush();
      await page.goto(`${own.url}/#token=${ADMIN_TOKEN}`);
      await settled(page);
      await go(page, '#/connectors');
      const table = page.locator('[data-test="connector-stages"]');
      expect(await table.locator('thead th').allTextContents()).toEqual([
        'Connector',
        'create_stream_job',
        'drop_stream_job',
        'All',
      ]);
      expect(await bodyCells(table)).toEqual([
        ['kafka', '1,200', '0', '1,200'],
        ['iceberg', '0', '5', '5'],
      ]);
      // Stage numbers a newer RisingWave might send (anyone may): a column for the 8 stages with
      // the most events, one request each, and the rest in one exact column.
      for (let i = 0; i < 10; i++) {
        const unknown = Array.from({ length: 10 + i }, (_, j) => ({
          trackingId: 'stages-0001',
          name: 'source',
          connectorName: 'kafka',
          stage: (101 + i) as rw.TelemetryEventStage,
          eventTimeSec: now - 3000 - 100 * i - j,
        }));
        expect((await own.postProto('/api/v2/report/events', eventBatch(unknown))).status).toBe(200);
      }
      await own.collector.batcher.flush();
      const asked: string[] = [];
      page.on('request', (r) => {
        if (r.url().includes('/query/event-counts')) asked.push(r.url());
      });
      await page.reload();
      await settled(page);
      expect(await table.locator('thead th').allTextContents()).toEqual([
        'Connector',
        'create_stream_job',
        ...Array.from({ length: 7 }, (_, i) => `unknown_${104 + i}`),
        '4 other stages',
        'All',
      ]);
      expect(await bodyCells(table)).toEqual([
        ['kafka', '1,200', '13', '14', '15', '16', '17', '18', '19', '33', '1,345'],
        ['iceberg', '0', '0', '0', '0', '0', '0', '0', '0', '5', '5'],
      ]);
      expect(asked).toHaveLength(10);
    });
  }, 90_000);

  it('a metric by cluster shows the top 30 groups, highest first, long labels cut with their tooltip', async () => {
    await withOwn('metric-groups', async (own, page) => {
      const id = (i: number) => `metric-groups-${String(i).padStart(2, '0')}-${'x'.repeat(50)}`;
      for (let i = 1; i <= 45; i++) {
        await sendAgent(own, agentReport({ trackingId: id(i), metrics: [counter('per.cluster', i)] }));
      }
      await page.goto(`${own.url}/#token=${ADMIN_TOKEN}`);
      await settled(page);
      await go(page, '#/metrics?name=per.cluster&by=trackingId');
      const totals = await page.locator('table.metrics tbody tr td:nth-child(3)').allTextContents();
      expect(totals).toEqual(Array.from({ length: 30 }, (_, i) => String(45 - i)));
      expect(await page.locator('[data-test="metric-groups"]').textContent()).toBe(
        'Groups by total, highest first: the top 30; 15 more not shown.',
      );
      const labels = page.locator('figure.grouped .group-label');
      expect(await labels.count()).toBe(30);
      expect(await labels.first().getAttribute('title')).toBe(id(45));
      expect((await labels.first().textContent())!.length).toBe(41);
    });
  }, 90_000);
});
