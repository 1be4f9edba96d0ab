// The license's `sub` is a customer name: personal-ish data the fleet statistics never need. By
// default the collector keeps only a salted hash of it (HMAC-SHA-256), in the `license_subject`
// column and inside the stored raw body alike, so reports of one customer can still be grouped but
// the name cannot be read back. The salt is generated once per store and kept in it (every
// collector sharing the store hashes alike), or configured. An operator may opt in to clear text.
import { createHmac, randomBytes } from 'node:crypto';
import { type NodeReport, redactLicenseJson, redactV2LicenseSubject } from '@tidewatch/protocol';
import type { ReportRow, Store } from '../store/store.js';

export const SALT_SETTING = 'license_subject_salt';
/** The longest subject kept in the hash cache (a customer name is far shorter). */
const SUBJECT_CACHE_MAX_CHARS = 256;
/** The longest license text kept rewritten (a real license is a few hundred bytes). */
const LICENSE_CACHE_MAX_CHARS = 2048;

export class LicenseSubjectPolicy {
  private readonly cache = new Map<string, string>();
  /**
   * License texts already rewritten, and what they became (null: nothing to redact). A cluster
   * sends the same license in every report, so this saves parsing and re-serializing it each time
   * (~6% of the main thread's CPU under bench:ingest). Only short texts, a few at a time: a real
   * license is a few hundred bytes, and a flood of made-up ones must not fill the memory.
   */
  private readonly rewritten = new Map<string, string | null>();

  private constructor(private readonly salt: string | null) {}

  /** Hashing with the store's salt (created on first use) or the configured one. */
  static async hashed(store: Store, configuredSalt?: string): Promise<LicenseSubjectPolicy> {
    const salt = configuredSalt ?? (await store.ensureSetting(SALT_SETTING, randomBytes(32).toString('hex')));
    return new LicenseSubjectPolicy(salt);
  }

  /** The operator opted in (`--store-license-subject`): kept as sent. */
  static clear(): LicenseSubjectPolicy {
    return new LicenseSubjectPolicy(null);
  }

  /** What is stored for a subject. */
  protect(subject: string): string {
    if (this.salt === null) return subject;
    let hashed = this.cache.get(subject);
    if (!hashed) {
      hashed = `hmac-sha256:${createHmac('sha256', this.salt).update(subject).digest('hex')}`;
      // Only names of a real length: a made-up 900 KB subject per report (the body limit allows it)
      // kept ~0.9 MB each, up to 10,000 of them, from anyone who can post a report.
      if (subject.length <= SUBJECT_CACHE_MAX_CHARS) remember(this.cache, subject, hashed, 10_000);
    }
    return hashed;
  }

  /** A license text with its subject protected, or null when it has none. */
  private rewriteLicense = (json: string): string | null => {
    let out = this.rewritten.get(json);
    if (out === undefined) {
      out = redactLicenseJson(json, (subject) => this.protect(subject));
      if (json.length <= LICENSE_CACHE_MAX_CHARS) remember(this.rewritten, json, out, 1_000);
    }
    return out;
  };

  /** The row with its license subject set, and the subject redacted in its raw v2 body. */
  apply(row: ReportRow, report: NodeReport): ReportRow {
    const subject = report.meta?.licenseSubject ?? null;
    const raw =
      this.salt !== null && report.protocol === 'risingwave_v2' && report.nodeType === 'meta'
        ? redactV2LicenseSubject(row.raw, this.rewriteLicense)
        : row.raw;
    return { ...row, licenseSubject: subject === null ? null : this.protect(subject), raw };
  }
}

/** A fleet has few customers and licenses; the bound only protects against a flood of made-up ones. */
function remember<V>(cache: Map<string, V>, key: string, value: V, max: number): void {
  if (cache.size >= max) cache.clear();
  cache.set(key, value);
}
