// UTC calendar days, `YYYY-MM-DD`: the unit of every daily statistic.

export const DAY_MS = 86_400_000;

let lastDayNumber = Number.NaN;
let lastDay = '';

/** UTC calendar day, `YYYY-MM-DD`, of a time in ms. */
export function utcDay(ms: number): string {
  // Every report asks, nearly always for the same day: remember the last answer.
  const dayNumber = Math.floor(ms / DAY_MS);
  if (dayNumber !== lastDayNumber) {
    lastDay = new Date(dayNumber * DAY_MS).toISOString().slice(0, 10);
    lastDayNumber = dayNumber;
  }
  return lastDay;
}

/** The UTC day `days` days after `day` (before it when negative). */
export function addDays(day: string, days: number): string {
  return utcDay(Date.parse(day) + days * DAY_MS);
}
