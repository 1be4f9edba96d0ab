// `tidewatch query` against a real collector: aligned tables, JSON equal to the API's answer.
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { encodeReportJson } from '@tidewatch/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentReport, counter } from '../../collector/test-support/agent-report.js';
import {
  ADMIN_TOKEN,
  startTestCollector,
  type TestCollector,
} from '../../collector/test-support/collector.js';
import { metaReport, v1MetaReport } from '../../collector/test-support/risingwave.js';
import { tempDir } from '../../collector/test-support/services.js';

const BIN = fileURLToPath(new URL('../bin/tidewatch.js', import.meta.url));
const run = promisify(execFile);
const dir = tempDir();
let c: TestCollector;
const ids = [randomUUID(), randomUUID(), randomUUID()];

beforeAll(async () => {
  c = await startTestCollector(`sqlite:${dir.path}/query.db`);
  await c.postProto('/api/v2/report/meta', metaReport({ trackingId: ids[0], version: '2.4.1' }));
  await c.postProto('/api/v2/report/meta', metaReport({ trackingId: ids[1], version: '2.4.1' }));
  await c.postProto('/api/v2/report/meta', metaReport({ trackingId: ids[2], version: '10.0.0' }));
});
afterAll(async () => {
  await c.close();
  dir.remove();
});

const tidewatch = (...args: string[]) =>
  run(process.execPath, [BIN, 'query', ...args, '--target', c.url], {
    env: { ...process.env, TIDEWATCH_TOKEN: ADMIN_TOKEN },
  });

describe('tidewatch query', () => {
  it('prints a breakdown as an aligned table', async () => {
    const { stdout } = await tidewatch('breakdown', '--by', 'version');
    expect(stdout.trimEnd().split('\n')).toEqual([
      'value   clusters',
      '------  --------',
      '2.4.1          2',
      '10.0.0         1',
    ]);
  });

  it('prints exactly the API answer with --json', async () => {
    const { stdout } = await tidewatch('active', '--json');
    const api = await (await c.get('/query/active')).json();
    expect(JSON.parse(stdout)).toEqual(api);
  });

  it('prints the overview, versions, cluster list and event counts', async () => {
    expect((await tidewatch('overview')).stdout).toMatch(/^\s*3\s+3\s+0\s+3\s+1$/m);
    expect((await tidewatch('versions', '--json')).stdout).toContain('"10.0.0"');
    const list = (await tidewatch('clusters', '--search', ids[2]!.slice(0, 8))).stdout;
    expect(list).toContain(ids[2]);
    expect((await tidewatch('event-counts', '--by', 'name')).stdout).toBe('(no rows)\n');
  });

  it('pages: a page that is not the last names the --before that asks for the next one', async () => {
    const first = (await tidewatch('clusters', '--limit', '2')).stdout;
    const next = /^\(more: the same question with --before (\S+)\)$/m.exec(first)?.[1];
    expect(next).toBeDefined();
    const second = (await tidewatch('clusters', '--limit', '2', '--before', next!)).stdout;
    const listed = [
      ...first.matchAll(/[0-9a-f]{8}-[0-9a-f-]{27}/g),
      ...second.matchAll(/[0-9a-f]{8}-[0-9a-f-]{27}/g),
    ];
    expect(new Set(listed.map((m) => m[0]))).toEqual(new Set(ids));
    expect(second).not.toContain('(more:');
  });

  it("prints one cluster's facts", async () => {
    const { stdout } = await tidewatch('cluster', ids[2]!);
    expect(stdout).toMatch(/^version\s+10\.0\.0$/m);
    expect(stdout).toMatch(/^clusterType\s+kubernetes$/m);
  });

  it('prints distributions, connectors, release pickup and a cluster history', async () => {
    const nodes = (await tidewatch('distribution', '--of', 'computeNodes')).stdout;
    expect(nodes.trimEnd().split('\n').slice(0, 3)).toEqual([
      'nodes  clusters',
      '-----  --------',
      '3-4           3',
    ]);
    expect(nodes).toContain('clusters 3 (unknown 0) · min 3 · p50 3 · p90 3 · p99 3 · max 3');
    expect((await tidewatch('distribution', '--of', 'memory')).stdout).toMatch(/^4-8 GiB\s+3$/m);
    const connectors = (await tidewatch('connectors')).stdout;
    expect(connectors).toMatch(/^source\s+kafka\s+plain\s+json\s+3\s+3$/m);
    expect(connectors).toMatch(/^sink\s+iceberg\s+upsert\s+parquet\s+3\s+3$/m);
    const adoption = JSON.parse((await tidewatch('adoption', '--json')).stdout) as {
      releases: { version: string }[];
    };
    expect(adoption.releases.map((r) => r.version).sort()).toEqual(['10.0.0', '2.4.1']);
    const history = (await tidewatch('history', ids[2]!)).stdout;
    expect(history).toMatch(/^\d{4}-\d{2}-\d{2}\s+10\.0\.0\s+1\/3\/2\/1\s+5\s+8\s+paid$/m);
    expect(history).toContain('sessions');
    // The sessions' memory in GiB, as the days' (the API answers bytes).
    expect(history).toMatch(/memoryGiB/);
    expect(history).not.toMatch(/memoryTotal/);
    expect((await tidewatch('metrics')).stdout).toBe('(no rows)\n');
    await expect(tidewatch('distribution')).rejects.toMatchObject({
      code: 2,
      stderr: expect.stringContaining('--of'),
    });
  }, 120_000); // nine CLI processes: slow on a busy machine

  it('prints a metric by one label and the agent events', async () => {
    const id = randomUUID();
    const errors = (cls: string, n: number) => counter('db.query.errors', n, { sqlstate_class: cls });
    const report = agentReport({
      trackingId: id,
      metrics: [errors('42', 3), errors('23', 1)],
      events: [{ name: 'db.ddl', timeMs: 1, fields: { op: 'create', object: 'table', name: 'accounts' } }],
    });
    const sent = await c.post('/api/v3/report', encodeReportJson(report), {
      'content-type': 'application/json',
    });
    expect(sent.status).toBe(200);
    const { stdout } = await tidewatch('metrics', 'db.query.errors', '--by', 'label:sqlstate_class');
    expect(stdout.trimEnd().split('\n')).toEqual([
      'value  clusters  total',
      '-----  --------  -----',
      '23            1      1',
      '42            1      3',
    ]);
    const events = (await tidewatch('agent-events', '--name', 'db.ddl', '--tracking-id', id)).stdout;
    expect(events).toMatch(
      new RegExp(
        `^\\S+Z\\s+${id}\\s+db\\.ddl\\s+\\{"op":"create","object":"table","name":"accounts"\\}$`,
        'm',
      ),
    );
    await expect(tidewatch('metrics', 'db.query.errors', '--by', 'label:')).rejects.toMatchObject({
      code: 1,
      stderr: expect.stringContaining('400 invalid_request'),
    });
  }, 60_000);

  it("explains the collector's refusal and exits non-zero", async () => {
    await expect(tidewatch('active', '--from', '2026-02-30')).rejects.toMatchObject({
      code: 1,
      stderr: expect.stringContaining('400 invalid_date'),
    });
    await expect(
      run(process.execPath, [BIN, 'query', 'active', '--target', c.url], {
        env: { ...process.env, TIDEWATCH_TOKEN: '' },
      }),
    ).rejects.toMatchObject({ code: 2, stderr: expect.stringContaining('a token is needed') });
    await expect(tidewatch('breakdown')).rejects.toMatchObject({
      code: 2,
      stderr: expect.stringContaining('--by'),
    });
    // A target without its scheme is named as such, not as a collector that cannot be reached.
    await expect(
      run(process.execPath, [BIN, 'query', 'active', '--target', new URL(c.url).host, '--token', 'x']),
    ).rejects.toMatchObject({
      code: 2,
      stderr: expect.stringContaining('--target must be a URL such as http://127.0.0.1:8080'),
    });
    // No question at all is a usage error too; --help is not.
    await expect(tidewatch()).rejects.toMatchObject({
      code: 2,
      stderr: expect.stringContaining('which question?'),
    });
    expect((await tidewatch('--help')).stdout).toContain('usage: tidewatch query');
    // No collector there: the cause, and what to do about it.
    await expect(
      run(process.execPath, [BIN, 'query', 'overview', '--token', 'x'], {
        env: { ...process.env, TIDEWATCH_URL: 'http://127.0.0.1:9' },
      }),
    ).rejects.toMatchObject({
      code: 1,
      stderr: expect.stringMatching(/at http:\/\/127\.0\.0\.1:9: \S.*: start it with .*TIDEWATCH_URL/),
    });
    // Words a question does not take are refused, not ignored.
    for (const args of [
      ['overview', 'extra'],
      ['cluster', ids[0]!, ids[1]!],
    ]) {
      await expect(tidewatch(...args), args.join(' ')).rejects.toMatchObject({
        code: 2,
        stderr: expect.stringMatching(/takes (no argument|one argument), not/),
      });
    }
    // A token copied with a curly quote: said as such, not as a collector that is down.
    await expect(
      run(process.execPath, [BIN, 'query', 'overview', '--target', c.url, '--token', 'tw_abc\u201d']),
    ).rejects.toMatchObject({
      code: 2,
      stderr: expect.stringContaining('--token holds a character a token never has (U+201D at position 7'),
    });
    // https:// to a collector serving plain HTTP: the address to use.
    await expect(
      run(process.execPath, [
        BIN,
        'query',
        'overview',
        '--target',
        c.url.replace('http:', 'https:'),
        '--token',
        'x',
      ]),
    ).rejects.toMatchObject({ code: 1, stderr: expect.stringContaining('use an http:// address') });
  });

  it('prints terminal escape sequences from reports as visible text, never to the terminal', async () => {
    // Anyone may send a report: an OS name that clears the screen and sets the window title.
    const evil = '\u001b[2J\u001b[31mEVIL\u001b]0;pwned\u0007';
    const report = JSON.parse(v1MetaReport({ trackingId: randomUUID() })) as {
      system_data: { os: { name: string } };
    };
    report.system_data.os.name = evil;
    const res = await c.post('/api/v1/report/meta', JSON.stringify(report), {
      'content-type': 'application/json',
    });
    expect(res.status).toBe(200);
    const { stdout } = await tidewatch('breakdown', '--by', 'os');
    expect(stdout).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/);
    expect(stdout).toContain('\\x1b[2J\\x1b[31mEVIL\\x1b]0;pwned\\x07');
  });

  it('gives up on a collector that never answers, and says what answered when it is not one', async () => {
    const sockets = new Set<Socket>();
    const silent = createServer(() => {}).on('connection', (s) => sockets.add(s));
    const html = createServer((_req, res) => res.end('<html>not a collector</html>'));
    const shapeless = createServer((_req, res) => res.end('{"rows":"nope"}'));
    const urls = await Promise.all(
      [silent, html, shapeless].map(
        (s) =>
          new Promise<string>((resolve) =>
            s.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(s.address() as AddressInfo).port}`)),
          ),
      ),
    );
    const at = (url: string, ...args: string[]) =>
      run(process.execPath, [BIN, 'query', 'breakdown', '--by', 'version', '--target', url, ...args], {
        env: { ...process.env, TIDEWATCH_TOKEN: ADMIN_TOKEN },
      });
    try {
      await expect(at(urls[0]!, '--timeout', '1')).rejects.toMatchObject({
        code: 1,
        stderr: expect.stringContaining('no answer within 1 s'),
      });
      await expect(at(urls[1]!)).rejects.toMatchObject({
        code: 1,
        stderr: expect.stringContaining('not a Tidewatch answer'),
      });
      await expect(at(urls[2]!)).rejects.toMatchObject({
        code: 1,
        stderr: expect.stringContaining('--json prints the answer'),
      });
      await expect(at(urls[0]!, '--timeout', 'soon')).rejects.toMatchObject({ code: 2 });
    } finally {
      for (const s of sockets) s.destroy();
      for (const s of [silent, html, shapeless]) s.close();
    }
  });

  it('--csv: one table for a spreadsheet, formulas defused, the rest on standard error', async () => {
    // A stored value that a spreadsheet would run as a formula, with a quote and a comma in it.
    const report = JSON.parse(v1MetaReport({ trackingId: randomUUID() })) as {
      system_data: { os: { name: string } };
    };
    report.system_data.os.name = '=HYPERLINK("http://x",1)';
    const res = await c.post('/api/v1/report/meta', JSON.stringify(report), {
      'content-type': 'application/json',
    });
    expect(res.status).toBe(200);
    const os = await tidewatch('breakdown', '--by', 'os', '--csv');
    const lines = os.stdout.trimEnd().split('\n');
    expect(lines[0]).toBe('value,clusters');
    expect(lines).toContain(`"'=HYPERLINK(""http://x"",1)",1`);
    // A page that is not the last: the records only on standard output, the cursor on standard error.
    const page = await tidewatch('clusters', '--limit', '2', '--csv');
    const records = page.stdout.trimEnd().split('\n');
    expect(records).toHaveLength(3);
    expect(records[0]!.split(',')).toContain('trackingId');
    expect(page.stderr).toMatch(/^\(more: the same question with --before \S+\)$/m);
    // Objects are JSON in one quoted cell; nothing else goes to standard output.
    const cluster = await tidewatch('cluster', ids[2]!, '--csv');
    expect(cluster.stdout).toMatch(/^nodeCount,"\{""meta"":\d+,/m);
    await expect(tidewatch('active', '--csv', '--json')).rejects.toMatchObject({
      code: 2,
      stderr: expect.stringContaining('--json and --csv: choose one'),
    });
  });
});
