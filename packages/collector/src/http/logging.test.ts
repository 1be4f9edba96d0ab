// Which log format the collector writes: readable lines at a terminal, JSON for everything else.
import { describe, expect, it } from 'vitest';
import { logDestination } from './logging.js';

describe('logDestination', () => {
  it('writes JSON (pino on stdout) unless asked for text or at a terminal', () => {
    expect(logDestination('json', { isTTY: true })).toBeUndefined();
    expect(logDestination('auto', { isTTY: false })).toBeUndefined();
    expect(logDestination('auto', {})).toBeUndefined();
    expect(logDestination('auto', { isTTY: true })).toBeDefined();
    expect(logDestination('text', { isTTY: false })).toBeDefined();
  });
});
