// The agent's only way to touch its dataDir. Writes are atomic (temp file, fsync, rename, fsync of
// the directory), so a crash leaves either the old file or the new one, never half of one. When
// the disk says no (read-only, full, no permission), the agent goes memory-only for the rest of the
// process instead of failing: telemetry must never hurt its host.
import { randomUUID } from 'node:crypto';
import { constants } from 'node:fs';
import { type FileHandle, link, mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';

/** A temp file this old is an interrupted write, not one in progress (which takes milliseconds). */
const STALE_TEMP_MS = 10 * 60_000;

/**
 * mkdir -p, by hand: Node 20's `mkdir(dir, { recursive: true })` never returns (and spins a
 * thread-pool thread at 100%) for a path under /proc, where creating fails with ENOENT although
 * the parent exists. Here every level is tried at most twice, so it fails instead.
 */
async function makeDirectories(dir: string): Promise<void> {
  try {
    await mkdir(dir);
    return;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return; // a file in the way fails the write that follows, as it should
    const parent = path.dirname(dir);
    if (code !== 'ENOENT' || parent === dir) throw error;
  }
  await makeDirectories(path.dirname(dir));
  await mkdir(dir).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'EEXIST') throw error;
  });
}

export class Disk {
  /** True once any write failed (or there is no dataDir): callers keep things in memory. */
  memoryOnly: boolean;

  /**
   * `readOnly` (TIDEWATCH_TELEMETRY_DEBUG): what is in `dir` is read, nothing is written or
   * removed there, and that is not an error.
   */
  constructor(
    readonly dir: string | null,
    private readonly onError: (message: string) => void,
    private readonly readOnly = false,
  ) {
    this.memoryOnly = dir === null;
  }

  private path(rel: string): string {
    return path.join(this.dir!, rel);
  }

  private fail(what: string, error: unknown, optional = false): false {
    if (optional) {
      // A file the agent can do without (the audit copy in sent/): skipped, and the spool and
      // state.json stay on disk. Memory-only for it left a kill -9 losing spooled reports.
      this.onError(`cannot ${what} in ${this.dir} (${(error as Error)?.message}); skipped`);
      return false;
    }
    if (!this.memoryOnly) {
      this.memoryOnly = true;
      this.onError(
        `cannot ${what} in ${this.dir} (${(error as Error)?.message}); keeping telemetry in memory only`,
      );
    }
    return false;
  }

  /**
   * Writes `bytes` to `rel` atomically; false (and memory-only from now on) if the disk refused.
   * An `optional` file's failure is logged and changes nothing else.
   */
  async write(rel: string, bytes: Uint8Array | string, optional = false): Promise<boolean> {
    return (await this.place(rel, bytes, 'replace', optional)) === 'written';
  }

  /**
   * Writes `rel` only if no file is there yet, atomically: of several processes creating it at
   * once exactly one gets 'written', the others 'exists' (and read the winner's).
   */
  async create(rel: string, bytes: Uint8Array | string): Promise<'written' | 'exists' | 'failed'> {
    return this.place(rel, bytes, 'create');
  }

  /** A temp file, fsynced, then renamed over `rel` or linked to it (which fails if it exists). */
  private async place(
    rel: string,
    bytes: Uint8Array | string,
    how: 'replace' | 'create',
    optional = false,
  ): Promise<'written' | 'exists' | 'failed'> {
    if (this.memoryOnly || this.readOnly) return 'failed';
    const target = this.path(rel);
    const temp = path.join(path.dirname(target), `.tmp-${randomUUID()}`);
    try {
      await makeDirectories(path.dirname(target));
      const file = await open(temp, 'w', 0o644);
      try {
        await file.writeFile(bytes);
        await file.sync();
      } finally {
        await file.close();
      }
      if (how === 'replace') await rename(temp, target);
      else {
        try {
          await link(temp, target);
          await rm(temp, { force: true });
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code === 'EEXIST') {
            await rm(temp, { force: true });
            return 'exists';
          }
          // No hard links here (vfat, exFAT, many FUSE and network mounts): replace instead, as
          // write() does. Exclusive no more, but the file is kept.
          await rename(temp, target);
        }
      }
      await this.syncDir(path.dirname(target));
      return 'written';
    } catch (error) {
      await rm(temp, { force: true }).catch(() => {});
      this.fail(`write ${rel}`, error, optional);
      return 'failed';
    }
  }

  /** Makes a rename durable; not every platform can open a directory, which is fine. */
  private async syncDir(dir: string): Promise<void> {
    try {
      const handle = await open(dir, 'r');
      try {
        await handle.sync();
      } finally {
        await handle.close();
      }
    } catch {}
  }

  /**
   * Renames `from` to `to` (atomic, and made durable); false if it could not be done, e.g. because
   * another process on the same dataDir renamed or removed `from` first. Not an error either way.
   */
  async move(from: string, to: string): Promise<boolean> {
    if (this.memoryOnly || this.readOnly) return false;
    try {
      await rename(this.path(from), this.path(to));
      await this.syncDir(path.dirname(this.path(to)));
      return true;
    } catch {
      return false;
    }
  }

  /** The file's bytes, or null when it is missing, unreadable or not a regular file. */
  async read(rel: string): Promise<Buffer | null> {
    if (this.dir === null) return null;
    let handle: FileHandle | undefined;
    try {
      // Non-blocking: opening a FIFO (or a device) left where one of our files should be waits for
      // a writer for ever, in a thread-pool thread that keeps the host's process alive, and every
      // agent call queued behind it would wait too. Opened this way it is seen, and skipped.
      handle = await open(this.path(rel), constants.O_RDONLY | constants.O_NONBLOCK);
      if (!(await handle.stat()).isFile()) return null;
      return await handle.readFile();
    } catch {
      return null;
    } finally {
      await handle?.close().catch(() => {});
    }
  }

  /** The size of a regular file, or null when it is missing or not a regular file. */
  async size(rel: string): Promise<number | null> {
    if (this.dir === null) return null;
    try {
      const info = await stat(this.path(rel));
      return info.isFile() ? info.size : null;
    } catch {
      return null;
    }
  }

  /** File names in `rel` (temp files of interrupted writes excluded), sorted. */
  async list(rel: string): Promise<string[]> {
    if (this.dir === null) return [];
    try {
      return (await readdir(this.path(rel))).filter((name) => !name.startsWith('.tmp-')).sort();
    } catch {
      return [];
    }
  }

  async remove(rel: string, optional = false): Promise<void> {
    if (this.dir === null || this.readOnly) return;
    try {
      await rm(this.path(rel), { force: true });
    } catch (error) {
      this.fail(`remove ${rel}`, error, optional);
    }
  }

  /**
   * Deletes what interrupted writes left behind in `rel`: temp files over STALE_TEMP_MS old. A
   * younger one may be another process's write in progress on the same dataDir (its rename then
   * failed, and that process went memory-only).
   */
  async removeTemps(rel: string, now = Date.now()): Promise<void> {
    if (this.dir === null || this.memoryOnly || this.readOnly) return;
    try {
      for (const name of await readdir(this.path(rel))) {
        if (!name.startsWith('.tmp-')) continue;
        const file = path.join(this.path(rel), name);
        const { mtimeMs } = await stat(file).catch(() => ({ mtimeMs: now }));
        if (now - mtimeMs > STALE_TEMP_MS) await rm(file, { force: true });
      }
    } catch {}
  }
}
