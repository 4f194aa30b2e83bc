/**
 * Progress bars (cli-progress) on stderr, only when stderr is a terminal: piped or logged
 * output stays clean.
 */
import cliProgress from 'cli-progress';

export interface Progress {
  increment(bytes: number): void;
  stop(): void;
}

const NONE: Progress = { increment: () => undefined, stop: () => undefined };

export function progressBar(label: string, total: number, stream: NodeJS.WriteStream = process.stderr): Progress {
  if (stream.isTTY !== true || total <= 0) return NONE;
  const bar = new cliProgress.SingleBar({
    stream,
    format: `${label} [{bar}] {percentage}% | {value}/{total} bytes | {eta_formatted}`,
    hideCursor: true,
    clearOnComplete: false,
  }, cliProgress.Presets.shades_classic);
  bar.start(total, 0);
  return {
    increment: (n) => bar.increment(n),
    stop: () => bar.stop(),
  };
}
