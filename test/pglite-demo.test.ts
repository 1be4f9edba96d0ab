// `npm run demo` for real: the demo's three processes (collector, PGlite service with the agent,
// workload) run briefly; the database's metrics must arrive through the query API, and stopping the
// demo must stop everything it started.
import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it, vi } from 'vitest';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
let demo: ChildProcess | null = null;
afterEach(() => {
  if (demo && demo.exitCode === null) demo.kill('SIGKILL');
});

type MetricAnswer = { kind: string | null; rows: Record<string, number | string | null>[] };

describe('npm run demo (examples/pglite)', () => {
  it('shows the PGlite service’s query volume, errors and latency percentiles, then stops cleanly', async () => {
    demo = spawn(process.execPath, ['--import', 'tsx', 'examples/pglite/demo.ts', '--interval-ms', '2000'], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    demo.stdout!.on('data', (d: Buffer) => {
      output += d.toString();
    });
    demo.stderr!.on('data', (d: Buffer) => {
      output += d.toString();
    });
    const exited = new Promise<number | null>((resolve) => demo!.on('exit', (code) => resolve(code)));

    const dashboard = await vi.waitFor(
      () => {
        const match = /^dashboard: (http:\/\/\S+?)\/#token=(tw_\S+)$/m.exec(output);
        if (!match) throw new Error(`no dashboard line yet:\n${output}`);
        return { url: match[1]!, token: match[2]! };
      },
      { timeout: 90_000, interval: 200 },
    );
    const service = /^service: +(http:\/\/\S+)/m.exec(output)![1]!;
    // Reports from a CI run are stored but left out of statistics unless asked for.
    const metric = async (name: string): Promise<MetricAnswer> => {
      const res = await fetch(`${dashboard.url}/query/metrics/${name}?includeCi=true`, {
        headers: { authorization: `Bearer ${dashboard.token}` },
      });
      expect(res.status).toBe(200);
      return (await res.json()) as MetricAnswer;
    };

    const seen = await vi.waitFor(
      async () => {
        const [queries, errors, latency] = await Promise.all([
          metric('db.queries'),
          metric('db.query.errors'),
          metric('db.query.duration'),
        ]);
        expect(queries.rows[0]?.['total']).toBeGreaterThan(100);
        expect(errors.rows[0]?.['total']).toBeGreaterThan(0);
        expect(latency.rows[0]?.['count']).toBeGreaterThan(100);
        return { queries, errors, latency };
      },
      { timeout: 60_000, interval: 500 },
    );
    expect(seen.queries).toMatchObject({ kind: 'counter', rows: [{ value: 'all', clusters: 1 }] });
    const row = seen.latency.rows[0]! as Record<string, number>;
    expect(seen.latency.kind).toBe('histogram');
    expect(row['p50']).toBeGreaterThan(0);
    expect(row['p50']).toBeLessThanOrEqual(row['p90']!);
    expect(row['p90']).toBeLessThanOrEqual(row['p99']!);
    const byNode = await fetch(`${dashboard.url}/query/metrics/db.queries?includeCi=true&by=nodeType`, {
      headers: { authorization: `Bearer ${dashboard.token}` },
    });
    expect(((await byNode.json()) as MetricAnswer).rows).toMatchObject([{ value: 'pglite' }]);
    // Errors by SQLSTATE class (the workload's unique violations and unknown columns), and the
    // DDL events of the service's schema.
    const get = async (path: string) => {
      const res = await fetch(`${dashboard.url}${path}`, {
        headers: { authorization: `Bearer ${dashboard.token}` },
      });
      expect(res.status, path).toBe(200);
      return (await res.json()) as Record<string, unknown>;
    };
    const byClass = (await get(
      '/query/metrics/db.query.errors?includeCi=true&by=label:sqlstate_class',
    )) as MetricAnswer;
    expect(byClass.rows.length).toBeGreaterThan(0);
    for (const r of byClass.rows) expect(r['value']).toMatch(/^[0-9A-Z]{2}$/);
    const ddl = (await get('/query/agent-events?name=db.ddl')) as {
      events: { name: string; fields: unknown }[];
    };
    expect(ddl.events.map((e) => e.fields)).toEqual(
      expect.arrayContaining([
        { system: 'pglite', action: 'create', object: 'table' },
        { system: 'pglite', action: 'create', object: 'index' },
      ]),
    );

    demo.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(output).toContain('stopped');
    // Nothing the demo started is left listening.
    await expect(fetch(`${dashboard.url}/healthz`)).rejects.toThrow();
    await expect(fetch(`${service}/accounts/1`)).rejects.toThrow();
  }, 180_000);
});
