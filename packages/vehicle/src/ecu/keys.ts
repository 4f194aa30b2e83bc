/**
 * An ECU's own ed25519 key pair, which signs its ECU version reports (Uptane 2.1 §5.4.2.1.2)
 * and its measured-boot attestations (STANDARDS.md §4, TCG Automotive-Thin).
 *
 * SIMULATOR/TEST KEYS: the private key is generated in software and kept in the ECU's state
 * folder (`key.pem`, mode 0600) next to a marker file (`key.json`) that says so. A production
 * ECU generates and keeps its key inside its HSM (SHE/EVITA/TPM) and never writes it to a file
 * system; only the `Signer` interface crosses that boundary.
 */
import { createPrivateKey } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PrivateKeySigner, expectObject, expectString, generateSigner } from '@reflash/metadata';
import { StateFileError } from '../errors.js';
import { writeFileAtomic } from '../io/atomic.js';
import { requireJsonFile, writeJsonFile } from '../io/json-file.js';

export const SIMULATOR_KEY_NOTICE =
  'SIMULATOR/TEST KEY: generated in software for the Reflash ECU simulator and tests. A production ECU keeps its private key in its HSM and never on a file system.';

const KEY_PEM = 'key.pem';
const KEY_INFO = 'key.json';

/** Write a key pair (a new one unless given) into `dir`. */
export async function createEcuKey(dir: string, signer: PrivateKeySigner = generateSigner('ed25519')): Promise<PrivateKeySigner> {
  const pem = signer.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  await writeFileAtomic(join(dir, KEY_PEM), Buffer.from(pem, 'utf8'), 0o600);
  await writeJsonFile(join(dir, KEY_INFO), { simulator: true, notice: SIMULATOR_KEY_NOTICE, scheme: signer.key.scheme, keyid: signer.keyId, public: signer.key.toJSON() });
  return signer;
}

export async function loadEcuKey(dir: string): Promise<PrivateKeySigner> {
  const info = expectObject(await requireJsonFile(join(dir, KEY_INFO)), KEY_INFO);
  const scheme = expectString(info['scheme'], `${KEY_INFO}.scheme`);
  if (scheme !== 'ed25519') throw new StateFileError(`${dir}: ECU keys are ed25519, found ${scheme}`);
  const pem = await readFile(join(dir, KEY_PEM), 'utf8');
  const signer = PrivateKeySigner.fromPrivateKey(createPrivateKey(pem), 'ed25519');
  if (signer.keyId !== info['keyid']) throw new StateFileError(`${dir}: ${KEY_PEM} does not match the key id in ${KEY_INFO}`);
  return signer;
}
