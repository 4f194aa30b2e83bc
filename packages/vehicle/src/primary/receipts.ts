/**
 * Accountability-log receipts kept by the Primary (TCG "audit and accountability"): one file per
 * update result, `receipts/<index>-<ecuSerial>.tlog-proof`, written atomically. A receipt is an
 * entry, its inclusion proof and a signed checkpoint: anyone can verify it offline with the log's
 * public key (`reflash audit verify-receipt`), even if the operator later disappears.
 */
import { mkdir, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../io/atomic.js';
import type { LogReceipt } from './ports.js';

export function receiptsDir(primaryDir: string): string {
  return join(primaryDir, 'receipts');
}

export async function keepReceipt(primaryDir: string, r: LogReceipt): Promise<void> {
  const dir = receiptsDir(primaryDir);
  await mkdir(dir, { recursive: true });
  await writeFileAtomic(join(dir, `${r.index}-${r.ecuSerial}.tlog-proof`), Buffer.from(r.receipt, 'utf8'));
}

/** The receipts kept so far, by file name. */
export async function keptReceipts(primaryDir: string): Promise<Map<string, string>> {
  const dir = receiptsDir(primaryDir);
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return new Map();
    throw err;
  }
  const out = new Map<string, string>();
  for (const n of names.filter((x) => x.endsWith('.tlog-proof')).sort()) out.set(n, await readFile(join(dir, n), 'utf8'));
  return out;
}
