/**
 * What an ECU refused, kept (persisted) until a report carrying it reached the Director:
 * Uptane 2.1 §5.4.2.1.2 `attacks_detected`. Bounded: at most MAX_ENTRIES entries of at most
 * MAX_TEXT characters (the oldest are dropped first), so an attacker cannot grow the reports.
 */
import { expectArray, expectObject, expectString } from '@reflash/metadata';
import { readJsonFile, writeJsonFile } from '../io/json-file.js';

export const MAX_ENTRIES = 16;
export const MAX_TEXT = 400;

interface Entry {
  readonly text: string;
  /** the first report counter that carried it, null until reported */
  readonly reportedIn: number | null;
}

export class AttackLog {
  readonly path: string;
  #entries: Entry[];

  private constructor(path: string, entries: Entry[]) {
    this.path = path;
    this.#entries = entries;
  }

  static async open(path: string): Promise<AttackLog> {
    const json = await readJsonFile(path);
    const entries = json === undefined ? [] : expectArray(json, path).map((e, i) => {
      const o = expectObject(e, `${path}[${i}]`);
      const r = o['reportedIn'];
      return { text: expectString(o['text'], `${path}[${i}].text`), reportedIn: typeof r === 'number' ? r : null };
    });
    return new AttackLog(path, entries);
  }

  get pending(): readonly string[] {
    return this.#entries.map((e) => e.text);
  }

  async add(text: string): Promise<void> {
    const t = text.length > MAX_TEXT ? `${text.slice(0, MAX_TEXT - 3)}...` : text;
    if (this.#entries.some((e) => e.text === t && e.reportedIn === null)) return;
    this.#entries = [...this.#entries, { text: t, reportedIn: null }].slice(-MAX_ENTRIES);
    await writeJsonFile(this.path, this.#entries);
  }

  /** The attacks_detected text of report `counter` ("" when none); durable before it is used. */
  async include(counter: number): Promise<string> {
    if (this.#entries.length === 0) return '';
    if (this.#entries.some((e) => e.reportedIn === null)) {
      this.#entries = this.#entries.map((e) => (e.reportedIn === null ? { text: e.text, reportedIn: counter } : e));
      await writeJsonFile(this.path, this.#entries);
    }
    return this.#entries.map((e) => e.text).join('; ');
  }

  /** Drop what reports up to `counter` carried. */
  async acknowledge(counter: number): Promise<void> {
    const kept = this.#entries.filter((e) => e.reportedIn === null || e.reportedIn > counter);
    if (kept.length === this.#entries.length) return;
    this.#entries = kept;
    await writeJsonFile(this.path, kept);
  }
}
