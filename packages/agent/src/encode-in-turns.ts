// Report encoding that leaves the host's event loop free: the work is split over turns, so a large
// report never holds the loop for its whole encoding.
import { type AgentReport, encodeReportProtobufPieces } from '@tidewatch/protocol';

/** `work` after the host's pending work has run: the snapshot and the encoding get separate turns. */
export async function inNextTurn<T>(work: () => T): Promise<T> {
  await new Promise((resolve) => setImmediate(resolve));
  return work();
}

/**
 * The protobuf report, encoded a hundred series at a time with the host's pending work let run
 * in between: a large report never holds the event loop for its whole encoding.
 */
export async function encodeInTurns(report: AgentReport): Promise<Uint8Array> {
  const pieces: Uint8Array[] = [];
  let bytes = 0;
  for (const piece of encodeReportProtobufPieces(report)) {
    await new Promise((resolve) => setImmediate(resolve));
    pieces.push(piece);
    bytes += piece.length;
  }
  const body = new Uint8Array(bytes);
  let at = 0;
  for (const piece of pieces) {
    body.set(piece, at);
    at += piece.length;
  }
  return body;
}
