// The `stage` parameter of /query/events and /query/event-counts: one of RisingWave's stages,
// `unspecified` (its stage 0, which license checks and connections use), or `unknown_<n>`, a stage
// number this version does not know (a newer RisingWave's; ingest stores it under that name).
import { EVENT_STAGES } from '@tidewatch/protocol';

export const STAGE_VALUES = [...EVENT_STAGES, 'unspecified', 'unknown_<n>'] as const;

export const stageParamSchema = {
  type: 'string',
  pattern: `^(?:${[...EVENT_STAGES, 'unspecified'].join('|')}|unknown_[0-9]{1,10})$`,
  description: `One of ${STAGE_VALUES.join(', ')}`,
} as const;

/** The stored stage a filter looks for: null for `unspecified`. */
export function stageFilter(stage: string | undefined): string | null | undefined {
  return stage === 'unspecified' ? null : stage;
}
