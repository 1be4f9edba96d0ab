// Builds the workspaces once before the tests, so tests that run the real `tidewatch` command
// (packages/cli/bin) exercise the current code. Incremental: fast when nothing changed.
import { execFileSync } from 'node:child_process';

/**
 * The operator's telemetry switches of the shell that runs the tests. An opt-out in process.env
 * holds over any `env` an agent is given (as it must for a host's operator), so a developer with
 * DO_NOT_TRACK=1 in their profile would see every agent test fail. Tests that need one set it
 * themselves. Removed here, in the main process, before the test workers are started from it.
 */
const OPERATOR_SWITCHES = ['DO_NOT_TRACK', 'TIDEWATCH_TELEMETRY', 'TIDEWATCH_TELEMETRY_DEBUG'];

export default function setup(): void {
  for (const name of OPERATOR_SWITCHES) delete process.env[name];
  execFileSync('npx', ['tsc', '-b'], { stdio: 'inherit' });
}
