// The package as a CommonJS project consumes it: require() at run time (Node 20.19+ loads the ES
// module), and TypeScript's `module: node16`, which refused dist/index.d.ts to a CommonJS file
// (TS1479) until package.json pointed `require` at index.d.cts.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import * as esm from './index.js';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const consumer = path.join(root, 'test', 'commonjs-consumer.cts');

describe('a CommonJS consumer', () => {
  it('type-checks with module node16 against the published exports', () => {
    const tsc = path.join(root, '..', '..', 'node_modules', 'typescript', 'bin', 'tsc');
    const args = [
      '--noEmit',
      '--skipLibCheck',
      '--strict',
      '--module',
      'node16',
      '--moduleResolution',
      'node16',
    ];
    // Throws with tsc's output (TS1479 without the `require` condition) when it does not.
    execFileSync(process.execPath, [tsc, ...args, '--target', 'es2022', '--types', 'node', consumer], {
      encoding: 'utf8',
    });
  }, 60_000);

  it('gets from require() every value the ES module exports, and index.d.cts declares each', () => {
    const names = execFileSync(
      process.execPath,
      ['-e', `console.log(JSON.stringify(Object.keys(require('@tidewatch/agent')).sort()))`],
      { cwd: root, encoding: 'utf8' },
    );
    expect(JSON.parse(names)).toEqual(Object.keys(esm).sort());
    const shim = readFileSync(path.join(root, 'index.d.cts'), 'utf8');
    const declared = [...shim.matchAll(/^export declare const (\w+)/gm)].map((m) => m[1]).sort();
    expect(declared).toEqual(Object.keys(esm).sort());
  });
});
