// The `tidewatch` command line: serve, token, simulate, query.
import { readFileSync } from 'node:fs';
import { envNameOf, joinNegativeValues, serveConfig, UsageError } from './args.js';
import { AUDIT_HELP, HELP, TOKEN_HELP } from './help.js';
import { serveHelp } from './serve-help.js';

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = joinNegativeValues(argv);
  // `query` and `simulate` print their own help; serve, token and audit theirs from here.
  const wantsHelp = rest.includes('--help') || rest.includes('-h');
  const commandHelp: Record<string, () => string> = {
    serve: () => serveHelp(envNameOf),
    token: () => TOKEN_HELP,
    audit: () => AUDIT_HELP,
  };
  if (wantsHelp && command !== undefined && Object.hasOwn(commandHelp, command)) {
    console.log(commandHelp[command]!());
    return;
  }
  if (wantsHelp && command !== 'query' && command !== 'simulate') {
    console.log(HELP);
    return;
  }
  // Each command's module is loaded when it runs: the collector's server and store drivers take
  // ~1 s of CPU to load, which `query`, `simulate`, `--help` and `--version` do not need.
  switch (command) {
    case 'serve': {
      const config = serveConfig(rest, process.env);
      return (await import('./serve.js')).serve(config, process.env);
    }
    case 'token':
      return (await import('./token.js')).token(rest, process.env);
    case 'audit':
      return (await import('./audit.js')).audit(rest, process.env);
    case 'simulate':
      return (await import('./simulate.js')).simulate(rest);
    case 'query':
      return (await import('./query.js')).query(rest, process.env);
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
