import { LIMITS } from '@tidewatch/protocol';
import { CollectorError } from '../errors.js';

/** A tracking id from a URL path: 1–128 printable ASCII characters, as at ingest. */
export function trackingIdParam(value: string): string {
  if (value.length === 0 || value.length > LIMITS.trackingIdMax || !/^[\x20-\x7e]+$/.test(value)) {
    throw new CollectorError(
      'invalid_tracking_id',
      `trackingId must be 1-${LIMITS.trackingIdMax} printable ASCII characters`,
    );
  }
  return value;
}

export const trackingIdParams = {
  type: 'object',
  required: ['trackingId'],
  properties: { trackingId: { type: 'string', description: "The cluster's tracking id" } },
} as const;
