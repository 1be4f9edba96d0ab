// The simulator's bytes decode to the facts it simulated, as a real cluster's would.
import { decodeV1Report } from '@tidewatch/protocol';
import { describe, expect, it } from 'vitest';
import { type BaseFacts, v1Report } from './wire.js';

const GIB = 2 ** 30;
const base: BaseFacts = {
  trackingId: '5c0a7e8d-1f0b-4c1e-9a55-3d2f0c9e7b11',
  sessionId: '0d6f2b8e-7a3c-4f5d-8e21-6b9c1a2d3e4f',
  node: 'compute',
  reportTime: 1_709_280_000,
  upTime: 3600,
  isTest: false,
  memoryUsed: 5 * GIB,
  memoryTotal: 16 * GIB,
  os: { name: 'Ubuntu', version: '22.04', kernel: '5.15.0-1051-aws' },
  cpus: 8,
};

describe('simulated v1 reports', () => {
  it("keep the machine's memory as the total, in the 1.4-era memory block too", () => {
    for (const legacyMemory of [false, true]) {
      const report = decodeV1Report('compute', v1Report(base, null, legacyMemory));
      expect(report.system.memoryTotal).toBe(16 * GIB);
      expect(report.system.memoryUsed).toBe(5 * GIB);
      expect(report.flags).toEqual(legacyMemory ? ['legacy_memory_total'] : []);
    }
  });
});
