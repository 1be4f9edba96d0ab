// The `stage` parameter of /query/events and /query/event-counts: one of RisingWave's stages,
// `unspecified` (its stage 0, which license checks and connections use), or `unknown_<n>`, a stage
// number this version does not know (a newer RisingWave's; ingest stores it under that name).
import { EVENT_STAGES } from '@tidewatch/protocol';

const NAMED = [...EVENT_STAGES, 'unspecified'];

export const stageParamSchema = {
  type: 'string',
  pattern: `^(?:${NAMED.join('|')}|unknown_[0-9]{1,10})$`,
  description: `One of ${NAMED.join(', ')}, unknown_<n>`,
} as const;

/** The stored stage a filter looks for: null for `unspecified`. */
export function stageFilter(stage: string | undefined): string | null | undefined {
  return stage === 'unspecified' ? null : stage;
}
