/**
 * Provisioning of a (simulated) ECU state folder, as at the end of the production line: identity,
 * key pair (simulator key, ecu/keys.ts), report counter 0, secure time, the factory image in
 * bank A ('good', selected), an empty bank B ('bad'), the trusted Director root (and the Image
 * repository root for full verification; Uptane 2.1 §5.4.4.1/§5.4.4.2 need them installed out
 * of band).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Metadata, TargetFile } from '@reflash/metadata';
import type { PrivateKeySigner } from '@reflash/metadata';
import { FileMetadataStore } from '../io/fs-store.js';
import { writeJsonFile } from '../io/json-file.js';
import { fsyncDir } from '../io/atomic.js';
import type { VerificationMode } from '../link.js';
import { BankStore } from './bank-store.js';
import { saveIdentity } from './identity.js';
import { createEcuKey } from './keys.js';
import { SecureTime } from './secure-time.js';
import { writeVerifyState } from './verify-state.js';

export interface EcuProvisioning {
  readonly serial: string;
  readonly hardwareId: string;
  readonly verification: VerificationMode;
  readonly factoryImage: { readonly filepath: string; readonly data: Uint8Array; readonly releaseCounter?: number };
  /** Director root.json the ECU trusts */
  readonly directorRoot: Uint8Array;
  /** Image repository root.json (needed for full verification) */
  readonly imageRoot?: Uint8Array;
  /** initial secure time (ms) */
  readonly secureTimeMs: number;
  /** a given key pair instead of a new one */
  readonly signer?: PrivateKeySigner;
}

export async function provisionEcu(dir: string, p: EcuProvisioning): Promise<void> {
  await mkdir(dir, { recursive: true });
  await saveIdentity(dir, { serial: p.serial, hardwareId: p.hardwareId, verification: p.verification });
  await createEcuKey(dir, p.signer);
  await writeJsonFile(join(dir, 'counter.json'), { value: 0 });
  await SecureTime.provision(join(dir, 'time.json'), p.secureTimeMs);
  const banks = new BankStore(dir);
  const tf = TargetFile.fromData(p.factoryImage.filepath, p.factoryImage.data);
  await writeFile(banks.bankPath('a'), p.factoryImage.data);
  await writeFile(banks.bankPath('b'), new Uint8Array());
  await fsyncDir(dir);
  const image = { filepath: tf.path, length: tf.length, hashes: { ...tf.hashes }, ...(p.factoryImage.releaseCounter === undefined ? {} : { releaseCounter: p.factoryImage.releaseCounter }) };
  await banks.save({ active: 'a', previous: null, banks: { a: { status: 'good', image }, b: { status: 'bad', image: null } }, bootAttempts: 0 });
  Metadata.fromBytes(p.directorRoot, 'root'); // a malformed root fails here, not at the first update
  await new FileMetadataStore(join(dir, 'metadata', 'director')).save('root', p.directorRoot);
  if (p.verification === 'full') {
    if (p.imageRoot === undefined) throw new Error(`ECU ${p.serial}: full verification needs the Image repository root`);
    await new FileMetadataStore(join(dir, 'metadata', 'image')).save('root', p.imageRoot);
  }
  await writeVerifyState(dir, { targetsVersion: 0, approved: null });
}
