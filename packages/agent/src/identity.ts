// Who is reporting and where the agent is in its cycle, persisted in dataDir.
//
// Files (both written atomically by disk.ts):
// - `tracking-id`: one line, a random UUID generated on the first start when the host passes no
//   trackingId. It names the cluster, not a machine or a person; delete it to get a new one.
// - `state.json`: `{"format":1,"nextSequence":12,"lastReportMs":1764194400000,
//   "lastSuccessMs":1764194400512,"noticeShownMs":1764108000000}`
//   nextSequence: the sequence number the next report gets (gaps at the collector mean losses);
//   lastReportMs: when the last report was built and safely spooled or delivered (the schedule
//   resumes from it after a restart); lastSuccessMs: when the collector last acknowledged one;
//   noticeShownMs: when the one-time notice was printed.
// The session id is new in every process and never written anywhere.
import { randomUUID } from 'node:crypto';
import { DOT_SEGMENT, PRINTABLE_ASCII } from '@tidewatch/protocol';
import type { Disk } from './disk.js';

export interface AgentState {
  nextSequence: number;
  lastReportMs: number | null;
  lastSuccessMs: number | null;
  noticeShownMs: number | null;
}

const TRACKING_ID_FILE = 'tracking-id';
const STATE_FILE = 'state.json';

const time = (v: unknown) => (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : null);

export async function loadState(disk: Disk): Promise<AgentState> {
  const fresh: AgentState = { nextSequence: 1, lastReportMs: null, lastSuccessMs: null, noticeShownMs: null };
  const bytes = await disk.read(STATE_FILE);
  if (!bytes) return fresh;
  try {
    const raw = JSON.parse(bytes.toString('utf8')) as Record<string, unknown>;
    return {
      nextSequence: time(raw['nextSequence']) ?? 1,
      lastReportMs: time(raw['lastReportMs']),
      lastSuccessMs: time(raw['lastSuccessMs']),
      noticeShownMs: time(raw['noticeShownMs']),
    };
  } catch {
    return fresh; // a corrupt file (an old bug, a hand edit) starts a fresh cycle, never a crash
  }
}

export async function saveState(disk: Disk, state: AgentState): Promise<boolean> {
  return disk.write(STATE_FILE, `${JSON.stringify({ format: 1, ...state })}\n`);
}

/** The host's trackingId, else the persisted one, else a new UUID (persisted when possible). */
export async function loadTrackingId(disk: Disk, fromOptions: string | null): Promise<string> {
  if (fromOptions !== null) return fromOptions;
  const stored = await readTrackingId(disk);
  if (stored) return stored;
  const id = randomUUID();
  // Created, never replaced: of the nodes that share a dataDir and start together, the first to
  // create the file names the cluster, and the others read its id instead of keeping their own.
  if ((await disk.create(TRACKING_ID_FILE, `${id}\n`)) === 'exists') {
    const winner = await readTrackingId(disk);
    if (winner) return winner;
    await disk.write(TRACKING_ID_FILE, `${id}\n`); // what was there is not an id: replace it
  }
  return id;
}

async function readTrackingId(disk: Disk): Promise<string | null> {
  const stored = (await disk.read(TRACKING_ID_FILE))?.toString('utf8').trim();
  // `.` and `..` are refused by the collector (no URL can name them): not an id either.
  return stored && stored.length <= 128 && PRINTABLE_ASCII.test(stored) && !DOT_SEGMENT.test(stored)
    ? stored
    : null;
}

export const newSessionId = (): string => randomUUID();
export const newReportId = (): string => randomUUID();
