// What a store URL names, without opening it (and without loading any store driver).
import { resolve } from 'node:path';
import { CollectorError } from '../errors.js';

/** The absolute path of a `sqlite:PATH` store's file; undefined for an in-memory or other store. */
export function sqliteFile(url: string, cwd: string = process.cwd()): string | undefined {
  if (!url.startsWith('sqlite:')) return undefined;
  const path = url.slice('sqlite:'.length);
  // `sqlite://data/x.db` reads as a host and a path; taken as a path it resolved to /data/x.db,
  // at the root of the file system (as root, silently).
  if (path.startsWith('//') && !path.startsWith('///'))
    throw new CollectorError(
      'invalid_store',
      `${url} names a host, which a SQLite store has not: use sqlite:PATH for a path relative to the current directory (sqlite:${path.slice(2)}) or sqlite:///ABSOLUTE/PATH`,
    );
  return path.length === 0 || path === ':memory:' ? undefined : resolve(cwd, path);
}
