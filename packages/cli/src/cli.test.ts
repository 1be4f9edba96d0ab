// The real `tidewatch` command in a child process: first start, restart, tokens, graceful stop.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, readFileSync, symlinkSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { metaReport, nodeReport } from '../../collector/test-support/risingwave.js';
import { createPostgresDatabase, tempDir } from '../../collector/test-support/services.js';
import { storeFlag } from './serve.js';

const BIN = fileURLToPath(new URL('../bin/tidewatch.js', import.meta.url));
const run = promisify(execFile);
const dir = tempDir();
const postgres = await createPostgresDatabase();
afterAll(async () => {
  dir.remove();
  await postgres?.drop();
});

interface Served {
  child: ChildProcess;
  url: string;
  lines: string[];
  exited: Promise<number | null>;
}

/** Starts `tidewatch serve` and waits for its `listening on` and `dashboard:` lines. */
async function serve(args: string[], env: Record<string, string> = {}): Promise<Served> {
  const child = spawn(process.execPath, [BIN, 'serve', '--port', '0', '--log-level', 'warn', ...args], {
    cwd: dir.path,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  const lines: string[] = [];
  const stderr: string[] = [];
  child.stderr!.on('data', (d) => stderr.push(String(d)));
  const rl = createInterface({ input: child.stdout! });
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`no dashboard line; stderr: ${stderr.join('')}`)),
      20_000,
    );
    rl.on('line', (line) => {
      lines.push(line);
      if (line.startsWith('dashboard:')) {
        clearTimeout(timer);
        resolve(/^listening on (\S+)$/m.exec(lines.join('\n'))![1]!);
      }
    });
    void exited.then((code) => reject(new Error(`exited with ${code}: ${stderr.join('')}`)));
  });
  return { child, url, lines, exited };
}

/** A port nothing listens on right now. */
async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const port = (probe.address() as AddressInfo).port;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

async function stop(s: Served): Promise<number | null> {
  s.child.kill('SIGTERM');
  return s.exited;
}

const postMeta = (url: string, body: Uint8Array) =>
  fetch(`${url}/api/v2/report/meta`, {
    method: 'POST',
    body,
    headers: { 'content-type': 'application/x-protobuf' },
  });

describe('the token hint after a later start', () => {
  it('names the store unless it is the default, never with its password', () => {
    expect(storeFlag('sqlite:./data/tidewatch.db')).toBe('');
    expect(storeFlag('postgres://tw:s3cret@db:5432/tw')).toBe(" --store 'postgres://tw:PASSWORD@db:5432/tw'");
    expect(storeFlag("sqlite:/srv/it's.db")).toBe(" --store 'sqlite:/srv/it'\\''s.db'");
    // A relative path as the absolute one the start-up line shows: the hint works from anywhere.
    expect(storeFlag('sqlite:review/copy.db')).toBe(
      ` --store 'sqlite:${join(process.cwd(), 'review/copy.db')}'`,
    );
  });
});

describe('tidewatch serve', () => {
  const store = `sqlite:${join(dir.path, 'serve.db')}`;
  let adminToken = '';

  it('prints the address and, on first start only, an admin token address; stops cleanly on SIGTERM', async () => {
    const first = await serve(['--store', store]);
    expect(first.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const dashboard = first.lines.find((l) => l.startsWith('dashboard:'))!;
    const match = /^dashboard: (http:\/\/\S+)\/#token=(tw_[\w-]+)$/.exec(dashboard);
    expect(match?.[1]).toBe(first.url);
    adminToken = match![2]!;
    expect((await postMeta(first.url, metaReport({ trackingId: 'cli-cluster' }))).status).toBe(200);
    expect(await stop(first)).toBe(0);

    const again = await serve([], { TIDEWATCH_STORE: store });
    expect(again.lines.join('\n')).not.toContain('#token=');
    // The hint names this store: run as printed, it mints a token this collector accepts.
    expect(again.lines.join('\n')).toContain(`token create --role admin --store '${store}'`);
    const res = await fetch(`${again.url}/query/clusters/cli-cluster`, {
      headers: { authorization: `Bearer ${adminToken}` },
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ version: '2.4.1', reports: { meta: 1 } });
    expect(await stop(again)).toBe(0);
  });

  it('on every interface (--host 0.0.0.0), prints a dashboard address a browser can open', async () => {
    const s = await serve(['--store', `sqlite:${join(dir.path, 'wildcard.db')}`, '--host', '0.0.0.0']);
    expect(s.url).toMatch(/^http:\/\/0\.0\.0\.0:\d+$/);
    const port = new URL(s.url).port;
    const dashboard = s.lines.find((l) => l.startsWith('dashboard:'))!;
    expect(dashboard).toMatch(new RegExp(`^dashboard: http://${hostname()}:${port}/#token=tw_`));
    await vi.waitFor(() => expect(s.lines.some((l) => l.includes('every interface'))).toBe(true));
    expect(s.lines).toContain(
      `  (listening on every interface; on this machine also http://localhost:${port}/)`,
    );
    // The printed local address answers.
    expect((await fetch(`http://localhost:${port}/healthz`)).status).toBe(200);
    expect(await stop(s)).toBe(0);
  });

  it('stores the README example: curl --data-binary @examples/risingwave/meta-report.pb', async () => {
    // A store and token of its own, so that this test also runs alone (-t).
    const token = 'readme-example-token-0123456789';
    const s = await serve(['--store', `sqlite:${join(dir.path, 'readme.db')}`], {
      TIDEWATCH_ADMIN_TOKEN: token,
    });
    const sample = fileURLToPath(new URL('../../../examples/risingwave/meta-report.pb', import.meta.url));
    const posted = await run('curl', [
      '-sS',
      '-X',
      'POST',
      `${s.url}/api/v2/report/meta`,
      '-H',
      'Content-Type: application/x-protobuf',
      '--data-binary',
      `@${sample}`,
    ]);
    expect(JSON.parse(posted.stdout)).toEqual({ status: 'stored', reports: 1, events: 0 });
    const id = '7f3e9c1a-4b2d-4e8f-9a6c-1d5b3e7f9a2c';
    const got = await run('curl', [
      '-sS',
      '-H',
      `Authorization: Bearer ${token}`,
      `${s.url}/query/clusters/${id}`,
    ]);
    const cluster = JSON.parse(got.stdout);
    expect(cluster).toEqual({
      trackingId: id,
      firstSeen: cluster.firstSeen,
      lastSeen: cluster.lastSeen,
      version: '2.4.1',
      gitSha: '9d2b1f7',
      clusterType: 'kubernetes',
      metaBackend: 'rdb',
      nodeCount: { meta: 1, compute: 3, frontend: 2, compactor: 1 },
      streamJobCount: 3,
      objectStore: 's3',
      licenseTier: 'paid',
      connectors: ['iceberg', 'kafka', 'postgres-cdc'],
      reports: { meta: 1, compute: 0, frontend: 0, compactor: 0 },
      events: 0,
      agentReports: 0,
    });
    // RisingWave 2.4 writes format and encode as their enum names: the connectors page folds them.
    const connectors = await fetch(`${s.url}/query/connectors`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(await connectors.json()).toMatchObject({
      sources: [{ connector: 'kafka', format: 'plain', encode: 'json', clusters: 1 }],
      sinks: [{ connector: 'iceberg', format: 'upsert', encode: 'parquet', clusters: 1 }],
    });
    expect(await stop(s)).toBe(0);
  });

  it('mints, lists and revokes tokens with `tidewatch token`', async () => {
    const created = await run(process.execPath, [
      BIN,
      'token',
      'create',
      '--role',
      'read',
      '--label',
      'ci',
      '--store',
      store,
    ]);
    const readToken = created.stdout.trim();
    expect(readToken).toMatch(/^tw_/);
    const s = await serve(['--store', store]);
    const auth = { authorization: `Bearer ${readToken}` };
    expect((await fetch(`${s.url}/query/clusters/cli-cluster`, { headers: auth })).status).toBe(200);
    expect(
      (await fetch(`${s.url}/admin/clusters/cli-cluster`, { method: 'DELETE', headers: auth })).status,
    ).toBe(403);
    const list = (await run(process.execPath, [BIN, 'token', 'list', '--store', store])).stdout;
    const line = list.split('\n').find((l) => l.includes('ci'))!;
    expect(line).toMatch(/read\s+active/);
    expect(line).toMatch(/\snever\s/); // no --expires-days: no expiry
    // A header row names the columns, as in `query`.
    expect(list.split('\n')[0]).toMatch(/^id\s+role\s+state\s+created\s+expires\s+label$/);
    const id = line.split(/\s+/)[0]!;
    await run(process.execPath, [BIN, 'token', 'revoke', id, '--store', store]);
    expect((await fetch(`${s.url}/query/clusters/cli-cluster`, { headers: auth })).status).toBe(401);
    expect(await stop(s)).toBe(0);
    // Both are in the audit log, by id (never the token), newest first.
    // One id at a time: a second one would be left active without a word.
    await expect(
      run(process.execPath, [BIN, 'token', 'revoke', id, 'tok_other', '--store', store]),
    ).rejects.toMatchObject({
      code: 2,
      stderr: expect.stringContaining('one token id at a time'),
    });
    // Revoked already: not a usage error, the store has no such active token.
    await expect(run(process.execPath, [BIN, 'token', 'revoke', id, '--store', store])).rejects.toMatchObject(
      {
        code: 1,
        stderr: expect.stringContaining(`no active token with id ${id}`),
      },
    );
    const audit = (await run(process.execPath, [BIN, 'audit', '--store', store])).stdout.split('\n');
    // A header row and a rule, then the entries.
    expect(audit[0]).toMatch(/^time\s+actor\s+action\s+target\s+details$/);
    expect(audit[1]).toMatch(/^-+(\s+-+){4}$/);
    expect(audit[2]).toMatch(new RegExp(`^\\S+Z\\s+cli\\s+token_revoke\\s+${id}`));
    expect(audit[3]).toMatch(new RegExp(`cli\\s+token_create\\s+${id}\\s+\\{"role":"read","label":"ci"\\}`));
    expect(audit.join('\n')).not.toContain(readToken);
    const json = JSON.parse((await run(process.execPath, [BIN, 'audit', '--json', '--store', store])).stdout);
    expect(json.slice(0, 2).map((e: { action: string; target: string }) => [e.action, e.target])).toEqual([
      ['token_revoke', id],
      ['token_create', id],
    ]);
    expect(json[0].at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    // Details as the API gives them: JSON, not a string of it.
    expect(json[1].details).toMatchObject({ role: 'read' });
  });

  it('token create --expires-days: the token works until then, then answers 401 and lists as expired', async () => {
    for (const bad of ['0', '-1', 'soon', '36501', '99999999']) {
      await expect(
        run(process.execPath, [
          BIN,
          'token',
          'create',
          '--role',
          'read',
          `--expires-days=${bad}`, // = so that -1 is read as a value
          '--store',
          store,
        ]),
      ).rejects.toMatchObject({
        code: 2,
        stderr: expect.stringContaining('--expires-days must be a positive number'),
      });
    }
    // The collector runs first, so the token is used at once. 0.0001 days: 8.64 s, ample to use it
    // once even on a loaded machine, short enough to see it expire.
    const s = await serve(['--store', store]);
    const before = Date.now();
    const args = ['token', 'create', '--role', 'read', '--label', 'brief', '--expires-days', '0.0001'];
    const token = (await run(process.execPath, [BIN, ...args, '--store', store])).stdout.trim();
    const auth = { authorization: `Bearer ${token}` };
    const status = async () => (await fetch(`${s.url}/query/clusters/cli-cluster`, { headers: auth })).status;
    expect(await status()).toBe(200);
    const listed = (await run(process.execPath, [BIN, 'token', 'list', '--store', store])).stdout
      .split('\n')
      .find((l) => l.includes('brief'))!;
    expect(listed).toMatch(/read\s+active/);
    const expires = Date.parse(/active\s+\S+\s+(\S+)/.exec(listed)![1]!);
    expect(expires - before).toBeGreaterThanOrEqual(8_640 - 100);
    expect(expires - Date.now()).toBeLessThanOrEqual(8_640);
    await vi.waitUntil(() => Date.now() > expires + 50, { timeout: 20_000, interval: 100 });
    expect(await status()).toBe(401);
    const after = (await run(process.execPath, [BIN, 'token', 'list', '--store', store])).stdout
      .split('\n')
      .find((l) => l.includes('brief'))!;
    expect(after).toMatch(/read\s+expired/);
    expect(await stop(s)).toBe(0);
    // A token an older version let through with an expiry no date can show: listed, not a crash.
    const file = new Database(store.slice('sqlite:'.length));
    file.prepare("update tokens set expires_at = 8641795834447096 where label = 'brief'").run();
    file.close();
    const odd = (await run(process.execPath, [BIN, 'token', 'list', '--store', store])).stdout;
    expect(odd).toMatch(/brief/);
    expect(odd).toMatch(/8641795834447096 ms \(out of range\)/);
    // Eleven CLI runs and a collector: past the default 30 s on a loaded machine.
  }, 90_000);

  it('token and audit refuse to create the default store somewhere else, and say where to run them', async () => {
    const elsewhere = join(dir.path, 'not-the-collector-dir');
    mkdirSync(elsewhere);
    const env = { ...process.env, TIDEWATCH_STORE: undefined } as NodeJS.ProcessEnv;
    for (const args of [['token', 'list'], ['token', 'create', '--role', 'read'], ['audit']]) {
      const failed = await run(process.execPath, [BIN, ...args], { cwd: elsewhere, env }).catch(
        (e: { code: number; stderr: string }) => e,
      );
      expect(failed, args.join(' ')).toMatchObject({ code: 2 });
      expect((failed as { stderr: string }).stderr).toMatch(
        /no store at .*not-the-collector-dir.*--store URL/,
      );
      // Nor a mistyped --store: that would create a new, empty store no collector uses.
      const typo = join(elsewhere, 'tidewatch-typo.db');
      const mistyped = await run(process.execPath, [BIN, ...args, '--store', `sqlite:${typo}`], {
        cwd: elsewhere,
        env,
      }).catch((e: { code: number; stderr: string }) => e);
      expect(mistyped, args.join(' ')).toMatchObject({
        code: 2,
        stderr: expect.stringMatching(/no store at .*tidewatch-typo/),
      });
      expect(existsSync(typo)).toBe(false);
    }
    expect(existsSync(join(elsewhere, 'data'))).toBe(false);
  });

  it('names a mistyped option and where the options are listed', async () => {
    for (const [args, help] of [
      [['query', 'clusters', '--format', 'csv'], 'tidewatch query --help'],
      [['serve', '--prot', '9'], 'tidewatch serve --help'],
    ] as const) {
      await expect(run(process.execPath, [BIN, ...args], { cwd: dir.path })).rejects.toMatchObject({
        code: 2,
        stderr: `tidewatch: unknown option ${args[args.length - 2]} (${help} lists the options)\n`,
      });
    }
  });

  it('token and audit do not upgrade a store an older collector serves', async () => {
    // A store one migration behind: what an older collector left, and may still be serving.
    const old = join(dir.path, 'older.db');
    expect(await stop(await serve(['--store', `sqlite:${old}`]))).toBe(0);
    const db = new Database(old);
    db.prepare("delete from kysely_migration where name = '0040_legacy_event_keys'").run();
    db.prepare("delete from settings where key = 'legacy_event_keys_until'").run();
    for (const args of [['token', 'list'], ['audit']]) {
      const failed = await run(process.execPath, [BIN, ...args, '--store', `sqlite:${old}`]).catch(
        (e: { code: number; stderr: string }) => e,
      );
      expect(failed, args.join(' ')).toMatchObject({
        code: 2,
        stderr: expect.stringContaining(
          'the store was written by an older Tidewatch and needs upgrading (0040_legacy_event_keys); upgrade it by starting this version of the collector',
        ),
      });
    }
    const pending = db.prepare("select 1 from kysely_migration where name = '0040_legacy_event_keys'").all();
    db.close();
    expect(pending).toEqual([]);
  });

  it('audit says so when the log is empty (retention removed every entry)', async () => {
    const path = join(dir.path, 'audit-empty.db');
    expect(await stop(await serve(['--store', `sqlite:${path}`]))).toBe(0);
    const db = new Database(path);
    db.prepare('delete from audit_log').run();
    db.close();
    const { stdout } = await run(process.execPath, [BIN, 'audit', '--store', `sqlite:${path}`]);
    expect(stdout.trim()).toBe(
      'no admin actions recorded yet (erasures, unblocks, tokens, imports and internal tags are)',
    );
    const json = await run(process.execPath, [BIN, 'audit', '--json', '--store', `sqlite:${path}`]);
    expect(JSON.parse(json.stdout)).toEqual([]);
  });

  it('finishes in-flight writes on SIGTERM: every acknowledged report is stored', async () => {
    const s = await serve(['--store', store, '--admin-token', 'shutdown-test-admin-token']);
    const sends = Array.from({ length: 300 }, (_, i) =>
      fetch(`${s.url}/api/v2/report/compute`, {
        method: 'POST',
        body: nodeReport('compute', { trackingId: 'shutdown', reportTime: i }),
        headers: { 'content-type': 'application/x-protobuf' },
      }).then(
        (r) => r.status,
        () => 0,
      ),
    );
    await new Promise((r) => setTimeout(r, 5));
    const code = await stop(s);
    const statuses = await Promise.all(sends);
    expect(code).toBe(0);
    const acknowledged = statuses.filter((st) => st === 200).length;
    expect(statuses.every((st) => st === 200 || st === 503 || st === 0)).toBe(true);

    const again = await serve(['--store', store, '--admin-token', 'shutdown-test-admin-token']);
    const res = await fetch(`${again.url}/query/clusters/shutdown`, {
      headers: { authorization: 'Bearer shutdown-test-admin-token' },
    });
    const stored =
      res.status === 404 ? 0 : ((await res.json()) as { reports: { compute: number } }).reports.compute;
    // Acknowledged implies stored; a request cut off mid-shutdown may be stored unacknowledged.
    expect(stored).toBeGreaterThanOrEqual(acknowledged);
    expect(await stop(again)).toBe(0);
  });

  it.skipIf(!postgres)('exits on SIGTERM within the store timeout while the store is stalled', async () => {
    const db = postgres!;
    const s = await serve(['--store', db.url, '--store-timeout', '1000']);
    // Another session holds the reports table: the collector's write waits for it.
    const locker = new pg.Client({ connectionString: db.url });
    await locker.connect();
    await locker.query('begin');
    await locker.query('lock table reports in access exclusive mode');
    try {
      const sent = postMeta(s.url, metaReport()).then(
        (r) => r.status,
        () => 0,
      );
      await new Promise((r) => setTimeout(r, 300));
      const started = Date.now();
      s.child.kill('SIGTERM');
      const code = await Promise.race([
        s.exited,
        new Promise((r) => setTimeout(() => r('still running'), 20_000)),
      ]);
      // Not acknowledged (503 once the store timeout passed), and the process gone soon after.
      expect(code).toBe(1);
      expect(await sent).toBe(503);
      expect(Date.now() - started).toBeLessThan(15_000);
    } finally {
      s.child.kill('SIGKILL');
      await locker.query('rollback');
      await locker.end();
    }
  });

  it('names its store, and warns of a TIDEWATCH_ variable that nothing reads', async () => {
    const path = join(dir.path, 'named.db');
    const s = await serve([], {
      TIDEWATCH_STORE: `sqlite:${path}`,
      TIDEWATCH_STOER: 'sqlite:/elsewhere.db',
      TIDEWATCH_TEST_SOMETHING: '1',
    });
    expect(s.lines).toContain(`store: sqlite:${path}`);
    await expect
      .poll(() => s.lines.join('\n'), { timeout: 5000 })
      .toMatch(
        /"level":"warn".*TIDEWATCH_STOER is set but is no setting of tidewatch: did you mean TIDEWATCH_STORE\?/,
      );
    expect(s.lines.join('\n')).not.toContain('TIDEWATCH_TEST_SOMETHING');
    expect(await stop(s)).toBe(0);
  });

  it('logs readable lines with --log-format text (JSON above, its output being a pipe)', async () => {
    const s = await serve(['--log-format', 'text'], { TIDEWATCH_STOER: 'sqlite:/elsewhere.db' });
    await expect
      .poll(() => s.lines.join('\n'), { timeout: 5000 })
      .toMatch(
        /^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} UTC\] WARN: TIDEWATCH_STOER is set but is no setting of tidewatch/m,
      );
    expect(s.lines.filter((line) => line.startsWith('{'))).toEqual([]);
    expect(await stop(s)).toBe(0);
  });

  it('keeps serving when its standard output is closed at start (`npm start | head`)', async () => {
    const port = await freePort();
    const child = spawn(
      process.execPath,
      [BIN, 'serve', '--port', String(port), '--store', `sqlite:${join(dir.path, 'epipe.db')}`],
      { cwd: dir.path, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child.stdout!.destroy(); // the reader went away before the first line
    const exited = once(child, 'exit').then(([code]) => code as number | null);
    await expect
      .poll(async () => (await fetch(`http://127.0.0.1:${port}/healthz`).catch(() => null))?.status, {
        timeout: 15_000,
      })
      .toBe(200);
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  });

  it('shuts down cleanly on a SIGTERM sent the moment /healthz first answers (start-up not finished)', async () => {
    // Listening comes before the first start's admin token is written: a supervisor that saw
    // /healthz may signal in between, and that signal must still end in a clean stop (exit 0).
    for (let round = 0; round < 4; round++) {
      const port = await freePort();
      const child = spawn(
        process.execPath,
        [BIN, 'serve', '--port', String(port), '--store', `sqlite:${join(dir.path, `early-${round}.db`)}`],
        { cwd: dir.path, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let stdout = '';
      child.stdout!.on('data', (d: Buffer) => (stdout += d));
      const exited = once(child, 'exit').then(([code]) => code as number | null);
      for (;;) {
        const status = await fetch(`http://127.0.0.1:${port}/healthz`).then(
          (r) => r.status,
          () => 0,
        );
        if (status === 200) break;
        await new Promise((r) => setImmediate(r));
      }
      child.kill('SIGTERM');
      expect(await exited, `round ${round}`).toBe(0);
      // The admin token this first start stored is shown, even though it was asked to stop.
      expect(stdout, `round ${round}`).toMatch(/dashboard: http:\/\/127\.0\.0\.1:\d+\/#token=tw_/);
    }
  });

  it('stops cleanly when npm, which started it, is stopped (`npm start`, `npx tidewatch serve`)', async () => {
    const root = fileURLToPath(new URL('../../../', import.meta.url));
    const healthy = async (port: number) =>
      (await fetch(`http://127.0.0.1:${port}/healthz`).catch(() => null))?.status === 200;
    // npm start: npm passes the SIGTERM on, and its script execs the collector, which gets it.
    // npx: npm's shell dies without passing it on; the orphaned collector notices its parent gone.
    // Ctrl-C in a terminal: SIGINT to npm and the collector at once, and npm passes its own on.
    for (const [how, parentSignal] of [
      ['npm start', 'SIGTERM'],
      ['npm start', 'SIGINT to the group'],
      ['npm exec shell', 'SIGKILL'],
    ] as const) {
      const port = await freePort();
      const store = `sqlite:${join(dir.path, `npm-${parentSignal.replaceAll(' ', '-')}.db`)}`;
      const child =
        how === 'npm start'
          ? spawn('npm', ['start', '--', '--port', String(port), '--store', store], {
              cwd: root,
              stdio: ['ignore', 'pipe', 'pipe'],
              detached: true, // its own process group, as a terminal's foreground job
            })
          : spawn(
              'sh',
              ['-c', `"${process.execPath}" "${BIN}" serve --port ${port} --store ${store}; true`],
              {
                cwd: dir.path,
                env: { ...process.env, npm_command: 'exec' },
                stdio: ['ignore', 'pipe', 'pipe'],
              },
            );
      let output = '';
      child.stdout!.on('data', (d: Buffer) => (output += d));
      child.stderr!.on('data', (d: Buffer) => (output += d));
      await expect.poll(() => healthy(port), { timeout: 20_000 }).toBe(true);
      if (parentSignal === 'SIGINT to the group') process.kill(-child.pid!, 'SIGINT');
      else child.kill(parentSignal);
      await expect.poll(() => healthy(port), { timeout: 10_000 }).toBe(false);
      await expect.poll(() => output, { timeout: 5_000 }).toContain('stopped cleanly');
      expect(output).not.toContain('second signal');
    }
  }, 60_000);

  it('refuses a second collector on the same SQLite file, and starts once the first is gone', async () => {
    const store = `sqlite:${join(dir.path, 'shared.db')}`;
    const first = await serve(['--store', store]);
    const second = run(process.execPath, [BIN, 'serve', '--port', '0', '--store', store], { cwd: dir.path });
    await expect(second).rejects.toMatchObject({
      code: 1,
      stderr: expect.stringContaining(`another collector already serves ${join(dir.path, 'shared.db')}`),
    });
    // Nor through a symbolic link to the file or to its directory: the same file.
    symlinkSync(join(dir.path, 'shared.db'), join(dir.path, 'link-to-shared.db'));
    symlinkSync(dir.path, join(dir.path, 'link-to-dir'));
    for (const other of [join(dir.path, 'link-to-shared.db'), join(dir.path, 'link-to-dir', 'shared.db')]) {
      const linked = run(process.execPath, [BIN, 'serve', '--port', '0', '--store', `sqlite:${other}`]);
      await expect(linked, other).rejects.toMatchObject({
        code: 1,
        stderr: expect.stringContaining('another collector already serves'),
      });
    }
    // Killed without a chance to clean up: the lock goes with the process.
    first.child.kill('SIGKILL');
    await first.exited;
    const third = await serve(['--store', store]);
    expect(await stop(third)).toBe(0);
  });

  it('warns that an in-memory store keeps nothing past a stop', async () => {
    const s = await serve(['--store', 'sqlite::memory:']);
    // The log line may come after the address lines (the logger writes asynchronously).
    await expect
      .poll(() => s.lines.join('\n'), { timeout: 5000 })
      .toMatch(/"level":"warn".*store is in memory.*use sqlite:PATH/);
    expect(await stop(s)).toBe(0);
  });

  it('explains bad flags and store URLs and exits non-zero', async () => {
    const badPort = run(process.execPath, [BIN, 'serve', '--port', 'abc']);
    await expect(badPort).rejects.toMatchObject({
      code: 2,
      stderr: expect.stringContaining('--port must be an integer'),
    });
    // A negative value after a space: the flag's own range, not parseArgs' "ambiguous".
    await expect(run(process.execPath, [BIN, 'serve', '--port', '-1'])).rejects.toMatchObject({
      code: 2,
      stderr: expect.stringContaining('--port must be an integer from 0 to 65535, not "-1"'),
    });
    const badStore = run(process.execPath, [BIN, 'serve', '--port', '0', '--store', 'mysql://x']);
    await expect(badStore).rejects.toMatchObject({
      code: 1,
      stderr: expect.stringContaining('unknown store URL'),
    });
    // A PostgreSQL URL without a database would fill the server's own `postgres` database.
    for (const url of ['postgres://postgres@127.0.0.1:5432', 'postgresql://postgres@127.0.0.1:5432/']) {
      await expect(
        run(process.execPath, [BIN, 'serve', '--port', '0', '--store', url]),
      ).rejects.toMatchObject({
        code: 1,
        stderr: expect.stringContaining('the postgres store URL names no database'),
      });
    }
    // A PostgreSQL database that does not exist: said as such, with what to do (or, on a machine
    // without PostgreSQL, that the store cannot be reached).
    const missingDb = run(process.execPath, [
      BIN,
      'serve',
      '--port',
      '0',
      '--store',
      'postgres://postgres@127.0.0.1:5432/tidewatch_no_such_database',
    ]);
    await expect(missingDb).rejects.toMatchObject({
      code: 1,
      stderr: expect.stringMatching(
        /cannot reach the store: (database ".*" does not exist \(create it first|connect ECONNREFUSED)/,
      ),
    });
    // A SQLite path that is a directory, a TLS file that is missing, a ClickHouse port nobody
    // listens on: each named, with what to check (and never the client's own stack dump).
    for (const [args, message] of [
      [['--store', `sqlite:${dir.path}`], /cannot open the SQLite store at .*must name a file/],
      // sqlite://data/x.db made /data/x.db, at the root of the file system.
      [
        ['--store', 'sqlite://data/tidewatch.db'],
        /sqlite:\/\/data\/tidewatch.db names a host.*sqlite:data\/tidewatch.db/,
      ],
      // Under a file, where its directory would have to be.
      [['--store', `sqlite:${join(BIN, 'tidewatch.db')}`], /cannot open the SQLite store at .*EEXIST/],
      [
        ['--store', `sqlite:${join(dir.path, 'tls.db')}`, '--tls-cert', '/nonexistent.pem', '--tls-key', BIN],
        /--tls-cert \/nonexistent.pem cannot be read/,
      ],
      [
        ['--store', `sqlite:${join(dir.path, 'tls.db')}`, '--tls-cert', BIN, '--tls-key', BIN],
        /--tls-cert .* is not a PEM file/,
      ],
      [
        ['--store', 'clickhouse://default@127.0.0.1:9/x'],
        /cannot reach the store: .*is clickhouse-server running/,
      ],
      [
        ['--store', 'postgres://postgres@127.0.0.1:9/x'],
        /cannot reach the store: .*is the database server running/,
      ],
    ] as const) {
      const failed = run(process.execPath, [BIN, 'serve', '--port', '0', ...args]);
      await expect(failed, args.join(' ')).rejects.toMatchObject({
        code: 1,
        stderr: expect.stringMatching(message),
      });
      const { stderr } = (await failed.catch((e: { stderr: string }) => e)) as { stderr: string };
      expect(stderr.trim().split('\n'), args.join(' ')).toHaveLength(1);
    }
    // A port already taken: what to do about it.
    const first = await serve(['--store', `sqlite:${join(dir.path, 'port-a.db')}`]);
    const port = new URL(first.url).port;
    const taken = run(process.execPath, [
      BIN,
      'serve',
      '--port',
      port,
      '--store',
      `sqlite:${join(dir.path, 'port-b.db')}`,
    ]);
    await expect(taken).rejects.toMatchObject({
      code: 1,
      stderr: expect.stringMatching(/EADDRINUSE[\s\S]*choose a port with --port/),
    });
    expect(await stop(first)).toBe(0);
    // Every store kind is named in the help, and in serve's own.
    const help = await run(process.execPath, [BIN, '--help']);
    const serveHelp = (await run(process.execPath, [BIN, 'serve', '--help'])).stdout;
    for (const scheme of ['sqlite:', 'postgres://', 'clickhouse://']) {
      expect(help.stdout).toContain(scheme);
      expect(serveHelp).toContain(scheme);
    }
    // Every question `tidewatch query --help` answers is named in the general help too.
    const queryHelp = (await run(process.execPath, [BIN, 'query', '--help'])).stdout;
    const questions = [...queryHelp.matchAll(/^ {2}([a-z-]+)\b/gm)].map((m) => m[1]!);
    expect(new Set(questions).size).toBeGreaterThanOrEqual(14);
    for (const question of questions) expect(help.stdout).toMatch(new RegExp(`\\b${question}\\b`));
    const packageVersion = JSON.parse(readFileSync(join(BIN, '../../package.json'), 'utf8')).version;
    expect((await run(process.execPath, [BIN, '--version'])).stdout.trim()).toBe(
      `tidewatch ${packageVersion}`,
    );
    const unknown = run(process.execPath, [BIN, 'frobnicate']);
    await expect(unknown).rejects.toMatchObject({
      code: 2,
      stderr: expect.stringContaining('unknown command'),
    });
    // About twenty collector starts, each loading the whole server: ~30 s on a busy 2-core machine.
  }, 90_000);

  it('prints the help of token and audit, each with every flag it takes', async () => {
    for (const [command, flags] of [
      ['token', ['create', 'list', 'revoke', '--role', '--label', '--expires-days', '--store']],
      ['audit', ['--limit', '--json', '--store']],
    ] as const) {
      const own = (await run(process.execPath, [BIN, command, '--help'])).stdout;
      expect(own).toMatch(new RegExp(`^usage: tidewatch ${command}`));
      expect(own).not.toContain('tidewatch serve');
      for (const flag of flags) expect(own).toContain(flag);
    }
  });
});
