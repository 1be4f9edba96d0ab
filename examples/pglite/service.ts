// A small bank service on PGlite (PostgreSQL in WebAssembly, in this process) with the Tidewatch
// agent attached in one line. Started by demo.ts; on its own:
//
//   TIDEWATCH_ENDPOINT=http://127.0.0.1:8080 npx tsx examples/pglite/service.ts [--port 3000]
//
// Routes: GET /accounts/{aid} (a point select), POST /transfer (a TPC-B-like transaction),
// POST /signup?aid=&owner= (a unique owner per account: a taken owner is a unique violation, 23505),
// GET /accounts?sort=COLUMN (an unknown column is an undefined_column error, class 42).
import http from 'node:http';
import { parseArgs } from 'node:util';
import { PGlite } from '@electric-sql/pglite';
import { createAgent } from '@tidewatch/agent';
import { instrumentPGlite } from '@tidewatch/integrations/pglite';
import { fillStatements, POINT_SELECT, randomTransfer, SCHEMA, SMALL_BANK, transferPGlite } from './bank.js';

const { values: args } = parseArgs({ options: { port: { type: 'string', default: '0' } } });
const env = process.env;

const agent = createAgent({
  endpoint: env.TIDEWATCH_ENDPOINT ?? 'http://127.0.0.1:8080',
  nodeType: 'pglite',
  version: '0.1.0',
  dataDir: env.TIDEWATCH_DATA_DIR ?? '.tidewatch',
  interval: Number(env.TIDEWATCH_INTERVAL_MS ?? 60_000), // the demo asks for a few seconds
  firstReportDelay: Number(env.TIDEWATCH_FIRST_REPORT_MS ?? 1_000),
});

const db = await PGlite.create();
instrumentPGlite(db, agent); // the one line: every query below is counted, timed and classified
await db.exec(SCHEMA);
for (const statement of fillStatements(SMALL_BANK)) await db.exec(statement);

/** "owner" is an identifier the client chose: quoted like PostgreSQL's quote_ident, never spliced raw. */
const quoteIdent = (name: string) => `"${name.replaceAll('"', '""')}"`;

async function handle(method: string, url: URL): Promise<[number, unknown]> {
  const path = url.pathname;
  const account = /^\/accounts\/(\d+)$/.exec(path);
  if (method === 'GET' && account) {
    const rows = (await db.query<{ abalance: number }>(POINT_SELECT, [Number(account[1])])).rows;
    return rows.length ? [200, rows[0]] : [404, { error: 'no such account' }];
  }
  if (method === 'POST' && path === '/transfer') {
    return [200, { balance: await transferPGlite(db, randomTransfer(SMALL_BANK)) }];
  }
  if (method === 'POST' && path === '/signup') {
    const owner = url.searchParams.get('owner') ?? '';
    const aid = Number(url.searchParams.get('aid'));
    await db.query('update accounts set owner = $1 where aid = $2', [owner, aid]);
    return [201, { aid }];
  }
  if (method === 'GET' && path === '/accounts') {
    const sort = url.searchParams.get('sort') ?? 'aid';
    const rows = (await db.query(`select aid from accounts order by ${quoteIdent(sort)} limit 5`)).rows;
    return [200, rows];
  }
  return [404, { error: 'not found' }];
}

const server = http.createServer((req, res) => {
  handle(req.method ?? 'GET', new URL(req.url ?? '/', 'http://service')).then(
    ([status, body]) =>
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body)),
    (error: { code?: string; message?: string }) =>
      res
        .writeHead(error.code?.startsWith('23') ? 409 : 400, { 'content-type': 'application/json' })
        .end(JSON.stringify({ error: error.message, sqlstate: error.code })),
  );
});
server.listen(Number(args.port), '127.0.0.1', () => {
  const { port } = server.address() as { port: number };
  console.log(`service listening on http://127.0.0.1:${port}`);
});

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  server.close();
  await agent.shutdown(2_000); // the last report goes out (or is spooled) before we exit
  await db.close();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
