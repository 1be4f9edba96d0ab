// `tidewatch audit`: the audit log of admin actions, newest first, read directly from the store
// (like `tidewatch token`, it runs where the store is reachable).
import { parseArgs } from 'node:util';
import { openStore } from '@tidewatch/collector';
import { existingStoreUrl, migrateNewOnly, UsageError } from './args.js';

export async function audit(argv: string[], env: NodeJS.ProcessEnv): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: { limit: { type: 'string' }, store: { type: 'string' } },
    strict: true,
  });
  const limit = values.limit === undefined ? 50 : Number(values.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > 10_000)
    throw new UsageError('--limit must be an integer from 1 to 10000');
  const store = openStore(existingStoreUrl(values, env));
  try {
    await migrateNewOnly(store);
    for (const e of await store.auditLog({ limit })) {
      console.log(
        [
          new Date(e.at).toISOString(),
          e.actor.padEnd(16),
          e.action.padEnd(12),
          e.target ?? '-',
          e.details ?? '',
        ].join('  '),
      );
    }
  } finally {
    await store.close();
  }
}
