// Builds the workspaces once before the tests, so tests that run the real `tidewatch` command
// (packages/cli/bin) exercise the current code. Incremental: fast when nothing changed.
import { execFileSync } from 'node:child_process';

export default function setup(): void {
  execFileSync('npx', ['tsc', '-b'], { stdio: 'inherit' });
}
