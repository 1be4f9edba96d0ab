// `tidewatch audit`: the audit log of admin actions, newest first, read directly from the store
// (like `tidewatch token`, it runs where the store is reachable).
import { parseArgs } from 'node:util';
import { auditEntryAnswer, openStore } from '@tidewatch/collector';
import { existingStoreUrl, migrateNewOnly, UsageError } from './args.js';
import { formatTable, printableJson } from './table.js';

export async function audit(argv: string[], env: NodeJS.ProcessEnv): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: { limit: { type: 'string' }, store: { type: 'string' }, json: { type: 'boolean' } },
    strict: true,
  });
  const limit = values.limit === undefined ? 50 : Number(values.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > 10_000)
    throw new UsageError('--limit must be an integer from 1 to 10000');
  const store = openStore(existingStoreUrl(values, env));
  try {
    await migrateNewOnly(store);
    const entries = await store.auditLog({ limit });
    if (values.json) {
      // As GET /admin/audit answers them: details as JSON, not a string holding JSON.
      console.log(printableJson(entries.map(auditEntryAnswer)));
      return;
    }
    if (entries.length === 0) {
      console.log(
        'no admin actions recorded yet (erasures, unblocks, tokens, imports and internal tags are)',
      );
      return;
    }
    // An aligned table with a header; stored text goes through printable() (formatTable).
    const rows = entries.map((e) => ({
      time: new Date(e.at).toISOString(),
      actor: e.actor,
      action: e.action,
      target: e.target ?? null,
      details: e.details ?? null,
    }));
    console.log(formatTable(rows));
  } finally {
    await store.close();
  }
}
