// Which log format the collector writes: readable lines at a terminal, JSON for everything else.
import { describe, expect, it } from 'vitest';
import { logDestination } from './logging.js';

describe('logDestination', () => {
  it('writes JSON (pino on stdout) unless asked for text or at a terminal', async () => {
    expect(await logDestination('json', { isTTY: true })).toBeUndefined();
    expect(await logDestination('auto', { isTTY: false })).toBeUndefined();
    expect(await logDestination('auto', {})).toBeUndefined();
    expect(await logDestination('auto', { isTTY: true })).toBeDefined();
    expect(await logDestination('text', { isTTY: false })).toBeDefined();
  });
});
