// The version colours of the charts (packages/dashboard/app/colours.ts).
import { describe, expect, it } from 'vitest';
import { OTHERS_COLOUR, PALETTE, versionColours } from '../packages/dashboard/app/colours.js';

describe('versionColours: a version keeps its colour whatever else is shown, and none shares one', () => {
  const versions = [
    '2.4.2',
    '2.2.5',
    '2.3.3',
    '1.9.1',
    '1.8.2',
    '2.0.4',
    '2.1.3',
    '2.6.0',
    '2.5.1',
    'unknown',
  ];

  it('does not follow the rank: the same versions in another order get the same colours', () => {
    const shown = versions.slice(0, 7);
    const colours = new Map(shown.map((v, i) => [v, versionColours(shown)[i]]));
    const reversed = [...shown].reverse();
    expect(versionColours(reversed)).toEqual(reversed.map((v) => colours.get(v)));
  });

  it('gives a version alone the colour of its name, in any set it has no neighbour wanting the same', () => {
    for (const v of versions) {
      const own = versionColours([v])[0];
      // With a version that sorts after it, the first in text order keeps its own colour.
      expect(versionColours(['zzz', v])[1], v).toBe(own);
      expect(versionColours([v, 'zzz'])[0], v).toBe(own);
    }
  });

  it('gives up to 7 versions shown together 7 different colours, none of them the neutral one', () => {
    for (let start = 0; start + 7 <= versions.length; start++) {
      const colours = versionColours(versions.slice(start, start + 7));
      expect(new Set(colours).size).toBe(7);
      expect(colours).not.toContain(OTHERS_COLOUR);
      for (const c of colours) expect(PALETTE).toContain(c);
    }
  });
});
