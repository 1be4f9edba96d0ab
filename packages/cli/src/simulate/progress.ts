// A progress bar on stderr: redrawn in place on a terminal, and on anything else (a CI log, a
// file) one plain line per 10%, so logs stay readable.
export interface ProgressStream {
  isTTY?: boolean;
  columns?: number;
  write(text: string): boolean;
}

const WIDTH = 24;

export class ProgressBar {
  private readonly started = performance.now();
  private lastDraw = 0;
  private lastTenth = 0;

  constructor(
    private readonly out: ProgressStream,
    private readonly total: number,
    private readonly unit: string,
  ) {}

  /** `done` of `total` units; `items` counts what was sent, for the rate; `detail` says what. */
  update(done: number, items: number, detail: string, force = false): void {
    const share = this.total === 0 ? 1 : Math.min(1, done / this.total);
    const seconds = (performance.now() - this.started) / 1000;
    const rate = seconds > 0 ? Math.round(items / seconds) : 0;
    const text = `${Math.floor(share * 100)}% ${this.unit} ${done}/${this.total}  ${detail}  ${rate.toLocaleString('en-US')}/s`;
    if (this.out.isTTY) {
      const now = performance.now();
      if (!force && now - this.lastDraw < 100) return;
      this.lastDraw = now;
      const filled = Math.round(share * WIDTH);
      const line = `[${'█'.repeat(filled)}${'░'.repeat(WIDTH - filled)}] ${text}`;
      this.out.write(`\r\x1b[2K${line.slice(0, (this.out.columns ?? 120) - 1)}`);
      return;
    }
    const tenth = Math.floor(share * 10);
    // The closing update repeats 100% only to give the final rate when the last line was earlier.
    if (tenth > this.lastTenth || (force && tenth === 10 && this.lastTenth < 10)) {
      this.lastTenth = tenth;
      this.out.write(`${text}\n`);
    }
  }

  /** Ends the bar's line so that what follows starts on its own line. */
  finish(): void {
    if (this.out.isTTY) this.out.write('\n');
  }
}
