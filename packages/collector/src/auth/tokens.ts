// Access tokens: 256 random bits shown once, stored only as a sha256 hash, compared in constant
// time. A fast hash is enough here: the secret is random, not a password that could be guessed.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Store, TokenRecord, TokenRole } from '../store/store.js';

export function hashToken(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

export interface NewToken {
  secret: string;
  record: TokenRecord;
}

export function newToken(
  role: TokenRole,
  label: string,
  now: number,
  expiresAt: number | null = null,
): NewToken {
  const secret = `tw_${randomBytes(32).toString('base64url')}`;
  return { secret, record: tokenRecord(secret, role, label, now, expiresAt) };
}

export function tokenRecord(
  secret: string,
  role: TokenRole,
  label: string,
  now: number,
  expiresAt: number | null = null,
): TokenRecord {
  return {
    id: `tok_${randomBytes(6).toString('hex')}`,
    hash: hashToken(secret),
    role,
    label,
    createdAt: now,
    expiresAt,
    revokedAt: null,
  };
}

/** The token a presented secret is (its id and role), or null if it is unknown, revoked or expired. */
export async function verifyToken(
  store: Store,
  secret: string,
  now: number,
): Promise<{ id: string; role: TokenRole } | null> {
  const hash = hashToken(secret);
  const record = await store.findTokenByHash(hash);
  if (!record) return null;
  const same = timingSafeEqual(Buffer.from(record.hash, 'hex'), Buffer.from(hash, 'hex'));
  if (!same || record.revokedAt !== null) return null;
  if (record.expiresAt !== null && record.expiresAt <= now) return null;
  return { id: record.id, role: record.role };
}
