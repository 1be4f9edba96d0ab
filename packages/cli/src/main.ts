// The `tidewatch` command line: serve, token, simulate, query.
import { readFileSync } from 'node:fs';
import { envNameOf, serveConfig, UsageError } from './args.js';
import { audit } from './audit.js';
import { query } from './query.js';
import { serve } from './serve.js';
import { serveHelp } from './serve-help.js';
import { simulate } from './simulate.js';
import { token } from './token.js';

const HELP = `tidewatch: telemetry for RisingWave and databases on Node.js

usage:
  tidewatch serve [--host H] [--port P] [--store URL] [--admin-token T] [--body-limit BYTES] [--log-level L]
      [--headers-timeout MS] [--request-timeout MS]
      [--trust-proxy true|HOPS|CIDRS] [--rate-limit-address N] [--rate-limit-cluster N] [--rate-limit-bytes N] [--redis-url URL]
      [--max-connections N] [--max-connections-per-address N] [--max-inflight-bytes N] [--store-timeout MS]
      [--cors-origin ORIGIN]... [--retention-months N] [--store-license-subject]
      [--tls-cert PEM --tls-key PEM]        (README: Configuration)
  tidewatch token create --role read|admin [--label TEXT] [--expires-days N] | list | revoke ID   [--store URL]
  tidewatch audit [--limit N] [--json] [--store URL]     the audit log of admin actions, newest first
  tidewatch simulate --clusters N --days D [--target URL] [--token T] [--seed S] [--agents] [--now TIME]
      a realistic fleet through the real wire formats; with an admin --token, D days of history go to
      /admin/import with backdated receive times, without one only the last day goes to the public
      ingest routes (tidewatch simulate --help)
  tidewatch query <question> [--from D] [--to D] [--json] [--target URL] [--token T]
      the query API as aligned tables; questions: overview, active, versions, adoption, breakdown,
      distribution, connectors, clusters, events, event-counts, metrics, agent-events, cluster,
      history (tidewatch query --help says what each answers)
  tidewatch --version

environment: TIDEWATCH_HOST, TIDEWATCH_PORT, TIDEWATCH_STORE, TIDEWATCH_ADMIN_TOKEN,
             TIDEWATCH_BODY_LIMIT, TIDEWATCH_LOG_LEVEL, TIDEWATCH_HEADERS_TIMEOUT,
             TIDEWATCH_REQUEST_TIMEOUT, TIDEWATCH_TRUST_PROXY, TIDEWATCH_RATE_LIMIT_ADDRESS,
             TIDEWATCH_RATE_LIMIT_CLUSTER, TIDEWATCH_RATE_LIMIT_BYTES, TIDEWATCH_REDIS_URL,
             TIDEWATCH_MAX_CONNECTIONS, TIDEWATCH_MAX_CONNECTIONS_PER_ADDRESS, TIDEWATCH_MAX_INFLIGHT_BYTES,
             TIDEWATCH_STORE_TIMEOUT,
             TIDEWATCH_CORS_ORIGINS (comma-separated),
             TIDEWATCH_RETENTION_MONTHS, TIDEWATCH_STORE_LICENSE_SUBJECT=1, TIDEWATCH_LICENSE_SALT,
             TIDEWATCH_TLS_CERT, TIDEWATCH_TLS_KEY; for query: TIDEWATCH_URL, TIDEWATCH_TOKEN
store URLs:  sqlite:PATH (default sqlite:./data/tidewatch.db, relative to the working directory),
             postgres://USER@HOST:PORT/DB, clickhouse://USER@HOST:8123/DB`;

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  // `query` and `simulate` print their own help; the others are covered by this one.
  const wantsHelp = rest.includes('--help') || rest.includes('-h');
  if (wantsHelp && command === 'serve') {
    console.log(serveHelp(envNameOf));
    return;
  }
  if (wantsHelp && command !== 'query' && command !== 'simulate') {
    console.log(HELP);
    return;
  }
  switch (command) {
    case 'serve':
      return serve(serveConfig(rest, process.env), process.env);
    case 'token':
      return token(rest, process.env);
    case 'audit':
      return audit(rest, process.env);
    case 'simulate':
      return simulate(rest);
    case 'query':
      return query(rest, process.env);
    case '--version':
    case '-v':
    case 'version': {
      // The CLI package's own version (dist/main.js and src/main.ts both sit one level below it).
      const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
        version: string;
      };
      console.log(`tidewatch ${pkg.version}`);
      return;
    }
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      console.log(HELP);
      return;
    default:
      throw new UsageError(`unknown command "${command}"\n\n${HELP}`);
  }
}

main(process.argv.slice(2)).catch((error: unknown) => {
  if (error instanceof UsageError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
    console.error(`tidewatch: ${usageMessage(error as Error, process.argv[2])}`);
    process.exit(2);
  }
  console.error(`tidewatch: ${(error as Error).message ?? error}${hintFor(error)}`);
  process.exit(1);
});

/**
 * A usage error as the operator should read it: parseArgs' unknown option ends with advice about
 * positional arguments after `--`, which is never what a mistyped flag needs; where the flags are
 * listed is.
 */
function usageMessage(error: Error, command: string | undefined): string {
  const unknown = /^Unknown option '([^']*)'/.exec(error.message);
  if ((error as { code?: string }).code !== 'ERR_PARSE_ARGS_UNKNOWN_OPTION' || !unknown) return error.message;
  const where = command && !command.startsWith('-') ? `tidewatch ${command} --help` : 'tidewatch --help';
  return `unknown option ${unknown[1]} (${where} lists the options)`;
}

/** What to do about an error an operator meets on a first start. */
function hintFor(error: unknown): string {
  if ((error as { code?: string }).code === 'EADDRINUSE') {
    return '\n  another process (another collector?) listens there: stop it, or choose a port with --port or TIDEWATCH_PORT';
  }
  return '';
}
