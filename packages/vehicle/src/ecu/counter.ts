/**
 * The ECU's monotonic report counter (Uptane 2.1 §5.4.2.1.2: a value that changes every update
 * cycle; EVITA "increment the monotonic counter", STANDARDS.md §3). The new value is persisted
 * (atomically, fsynced) BEFORE it is released in a report, so a value never repeats, whatever
 * the moment a crash or power cut happens: at worst a value is skipped.
 */
import { expectObject, expectUint } from '@reflash/metadata';
import { readJsonFile, writeJsonFile } from '../io/json-file.js';

export class MonotonicCounter {
  readonly path: string;
  #value: number;

  private constructor(path: string, value: number) {
    this.path = path;
    this.#value = value;
  }

  static async open(path: string): Promise<MonotonicCounter> {
    const json = await readJsonFile(path);
    const value = json === undefined ? 0 : expectUint(expectObject(json, path)['value'], `${path}.value`);
    return new MonotonicCounter(path, value);
  }

  /** The last value released (0 before the first). */
  get value(): number {
    return this.#value;
  }

  /** The next value, durable before it is returned. */
  async next(): Promise<number> {
    const v = this.#value + 1;
    await writeJsonFile(this.path, { value: v });
    this.#value = v;
    return v;
  }
}
