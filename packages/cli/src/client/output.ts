/** Where a command writes: results to stdout, notes and warnings to stderr (tests capture both). */
export interface Output {
  /** a result line (stdout) */
  out(line: string): void;
  /** a note or warning (stderr) */
  note(line: string): void;
}

export const CONSOLE: Output = {
  out: (line) => process.stdout.write(`${line}\n`),
  note: (line) => process.stderr.write(`${line}\n`),
};

/** An Output that keeps the lines (tests). */
export function captureOutput(): Output & { readonly lines: string[]; readonly notes: string[] } {
  const lines: string[] = [];
  const notes: string[] = [];
  return { lines, notes, out: (l) => lines.push(l), note: (l) => notes.push(l) };
}
