// The ClickHouse store URL (README, Stores): what reaches the HTTP client.
import { describe, expect, it } from 'vitest';
import { openStore } from '../open-store.js';
import { parseClickHouseUrl } from './clickhouse-store.js';

describe('clickhouse store URL', () => {
  it('talks HTTP on 8123 by default, with the database from the path', () => {
    expect(parseClickHouseUrl('clickhouse://127.0.0.1/tw')).toEqual({
      url: 'http://127.0.0.1:8123',
      database: 'tw',
      username: 'default',
      password: '',
    });
  });

  it('takes a user, a password (percent-encoded), a port and TLS', () => {
    expect(parseClickHouseUrl('clickhouse+https://ingest:p%40ss@ch.internal:9443/fleet')).toEqual({
      url: 'https://ch.internal:9443',
      database: 'fleet',
      username: 'ingest',
      password: 'p@ss',
    });
    expect(parseClickHouseUrl('clickhouse+https://ch.internal/fleet').url).toBe('https://ch.internal:8443');
  });

  it('names the database tidewatch when the path is empty, and refuses names that are not plain', () => {
    expect(parseClickHouseUrl('clickhouse://localhost:8123').database).toBe('tidewatch');
    expect(() => parseClickHouseUrl('clickhouse://localhost:8123/a-b')).toThrow(/letters, digits and _/);
    expect(() => parseClickHouseUrl('clickhouse://localhost:8123/x;drop')).toThrow(/letters, digits and _/);
  });

  it('is picked by openStore from the URL scheme', async () => {
    const store = openStore('clickhouse://127.0.0.1:8123/never_used');
    expect(store.kind).toBe('clickhouse');
    await store.close();
  });
});
