// Chart colours. Pure (no DOM): the unit tests import it.

/** Okabe–Ito: distinguishable with the common colour-vision deficiencies. */
export const PALETTE = [
  '#0072b2',
  '#e69f00',
  '#009e73',
  '#cc79a7',
  '#56b4e9',
  '#d55e00',
  '#8a7a00',
  '#4d4d4d',
];

/** The band that sums the versions not shown on their own: neutral, no version's colour. */
export const OTHERS_COLOUR = PALETTE[7]!;

/** The colours a version can have: the palette without the neutral one. */
const VERSION_COLOURS = PALETTE.slice(0, 7);

/** FNV-1a: a small, stable hash of a version's text (the same in every browser and session). */
function hash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/**
 * A colour per version, derived from the version's text, not from its rank in the range: a version
 * keeps its colour when the range or the view changes. Two versions shown together that hash to the
 * same colour would look like one band: the first of them in text order keeps it and the next takes
 * the next free colour (so a version's colour only changes when such a neighbour comes or goes).
 * Past 7 versions colours repeat.
 */
export function versionColours(versions: readonly string[]): string[] {
  const slots = new Map<string, number>();
  const taken = new Set<number>();
  for (const version of [...new Set(versions)].sort()) {
    let slot = hash(version) % VERSION_COLOURS.length;
    if (taken.size < VERSION_COLOURS.length)
      while (taken.has(slot)) slot = (slot + 1) % VERSION_COLOURS.length;
    taken.add(slot);
    slots.set(version, slot);
  }
  return versions.map((v) => VERSION_COLOURS[slots.get(v)!]!);
}
