// The committed corpus of hostile ingest requests (packages/collector/test/corpus/): one small file
// per body and a manifest saying which route it goes to, with which headers, what it is, and what the
// collector must answer. Used by the hostile-input test and by the soak (bench/soak.ts).
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const CORPUS_DIR = fileURLToPath(new URL('../test/corpus/', import.meta.url));

export interface CorpusEntry {
  /** File name of the body in CORPUS_DIR. */
  file: string;
  route: string;
  /** Absent: no Content-Type header at all. */
  contentType?: string;
  contentEncoding?: string;
  /** What the body is, for a reader of the manifest. */
  what: string;
  /** The status the collector must answer, and for 4xx the error code. */
  status: number;
  error?: string;
}

export interface CorpusCase extends CorpusEntry {
  body: Buffer;
  headers: Record<string, string>;
}

export function loadCorpus(): CorpusCase[] {
  const manifest = JSON.parse(readFileSync(`${CORPUS_DIR}manifest.json`, 'utf8')) as CorpusEntry[];
  return manifest.map((entry) => {
    const headers: Record<string, string> = {};
    if (entry.contentType !== undefined) headers['content-type'] = entry.contentType;
    if (entry.contentEncoding !== undefined) headers['content-encoding'] = entry.contentEncoding;
    return { ...entry, headers, body: readFileSync(`${CORPUS_DIR}${entry.file}`) };
  });
}
