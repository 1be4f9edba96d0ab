// `tidewatch token create|list|revoke`: manage access tokens directly in the store.
import { parseArgs } from 'node:util';
import { newToken, openStore, type TokenRole } from '@tidewatch/collector';
import { existingStoreUrl, migrateNewOnly, UsageError } from './args.js';
import { TOKEN_USAGE as USAGE } from './help.js';
import { formatTable } from './table.js';

const MAX_EXPIRES_DAYS = 36_500;

/** A stored time as ISO 8601; one no date can show (set by an older version) as its number. */
function isoTime(ms: number): string {
  const date = new Date(ms);
  return Number.isNaN(date.getTime()) ? `${ms} ms (out of range)` : date.toISOString();
}

export async function token(argv: string[], env: NodeJS.ProcessEnv): Promise<void> {
  const [action, ...rest] = argv;
  const { values, positionals } = parseArgs({
    args: rest,
    options: {
      role: { type: 'string' },
      label: { type: 'string' },
      'expires-days': { type: 'string' },
      store: { type: 'string' },
    },
    allowPositionals: true,
    strict: true,
  });
  if (!action || !['create', 'list', 'revoke'].includes(action)) throw new UsageError(USAGE);
  const store = openStore(existingStoreUrl(values, env));
  try {
    await migrateNewOnly(store);
    const now = Date.now();
    if (action === 'create') {
      const role = values.role as TokenRole;
      if (role !== 'read' && role !== 'admin') throw new UsageError(`--role must be read or admin\n${USAGE}`);
      const days = values['expires-days'] === undefined ? null : Number(values['expires-days']);
      // At most a century: past ~273,790 years a date cannot be written, and `token list` failed.
      if (days !== null && !(Number.isFinite(days) && days > 0 && days <= MAX_EXPIRES_DAYS))
        throw new UsageError(`--expires-days must be a positive number of days, at most ${MAX_EXPIRES_DAYS}`);
      const created = newToken(
        role,
        values.label ?? `created by the CLI`,
        now,
        days === null ? null : now + days * 86_400_000,
      );
      await store.putToken(created.record);
      await store.appendAudit({
        at: now,
        actor: 'cli',
        action: 'token_create',
        target: created.record.id,
        details: JSON.stringify({ role, label: created.record.label }),
      });
      console.log(created.secret);
      console.error(`created ${role} token ${created.record.id}; it is shown once, only its hash is stored`);
    } else if (action === 'list') {
      const rows = (await store.listTokens()).map((t) => ({
        id: t.id,
        role: t.role,
        state: t.revokedAt ? 'revoked' : t.expiresAt !== null && t.expiresAt <= now ? 'expired' : 'active',
        created: isoTime(t.createdAt),
        expires: t.expiresAt === null ? 'never' : isoTime(t.expiresAt),
        label: t.label,
      }));
      // The query command's table: a header row, and labels escaped like every stored string.
      console.log(rows.length === 0 ? '(no tokens)' : formatTable(rows));
    } else {
      const id = positionals[0];
      if (!id) throw new UsageError(USAGE);
      // One at a time: a second id was silently left active.
      if (positionals.length > 1) throw new UsageError('token revoke takes one token id at a time');
      // Not a usage error (exit 1, not 2): the command was right, the store holds no such token.
      if (!(await store.revokeToken(id, now)))
        throw new Error(`no active token with id ${id} (tidewatch token list shows them)`);
      await store.appendAudit({ at: now, actor: 'cli', action: 'token_revoke', target: id, details: null });
      console.log(`revoked ${id}`);
    }
  } finally {
    await store.close();
  }
}
