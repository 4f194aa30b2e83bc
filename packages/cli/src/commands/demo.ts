/**
 * `reflash demo`: one Uptane update cycle in-process, with real keys and real verification:
 * an Image repository and a Director repository, a vehicle with three ECUs, full verification
 * (Uptane 2.1 §5.4.4.2) of the assignment, then the same cycle against a compromised Director
 * that names an image the Image repository never signed (it must be refused).
 */
import {
  FetchError, DownloadLengthError, RepositoryBuilder, TargetFile, generateSigner, uptaneCustom,
} from '@reflash/metadata';
import type { Signer } from '@reflash/metadata';
import { Updater, fullVerification } from '@reflash/verify';
import type { Fetcher, MetadataStore } from '@reflash/verify';

class MemoryFetcher implements Fetcher {
  constructor(readonly repo: RepositoryBuilder, readonly base: string) {}
  fetch(url: string, maxLength: number): Promise<Uint8Array> {
    const bytes = this.repo.files.get(url.slice(this.base.length));
    if (bytes === undefined) return Promise.reject(new FetchError(404, `not found: ${url}`));
    if (bytes.byteLength > maxLength) return Promise.reject(new DownloadLengthError(`${url} exceeds ${maxLength} bytes`));
    return Promise.resolve(bytes);
  }
}

class MemoryStore implements MetadataStore {
  readonly files = new Map<string, Uint8Array>();
  load(role: string): Promise<Uint8Array | undefined> { return Promise.resolve(this.files.get(role)); }
  save(role: string, bytes: Uint8Array): Promise<void> { this.files.set(role, bytes); return Promise.resolve(); }
  remove(role: string): Promise<void> { this.files.delete(role); return Promise.resolve(); }
}

function repository(now: number): RepositoryBuilder {
  const k = (): Signer[] => [generateSigner('ed25519')];
  return new RepositoryBuilder({
    now,
    keys: { root: { signers: [generateSigner(), generateSigner()], threshold: 2 }, timestamp: { signers: k() }, snapshot: { signers: k() }, targets: { signers: [generateSigner('ecdsa-sha2-nistp256')] } },
  });
}

function updater(repo: RepositoryBuilder, name: string, now: number): Updater {
  const base = `memory://${name}/`;
  const store = new MemoryStore();
  store.files.set('root', repo.files.get('1.root.json')!);
  return new Updater({ metadataBaseUrl: base, fetcher: new MemoryFetcher(repo, base), store, referenceTime: now });
}

export async function runDemo(log: (line: string) => void = console.log): Promise<boolean> {
  const now = Date.now();
  const ecus = new Map([['ECU-GW-0001', 'gateway-a1'], ['ECU-BRK-0001', 'brake-b2'], ['ECU-STR-0001', 'steering-c3']]);
  log('Image repository: root (2-of-2 ed25519), targets (ecdsa-sha2-nistp256), snapshot, timestamp');
  const image = repository(now);
  const published: TargetFile[] = [];
  let rc = 7;
  for (const [, hw] of ecus) {
    const data = Buffer.from(`firmware for ${hw} release ${rc}`);
    published.push(image.addTarget(`${hw}/firmware-${rc}.bin`, data, uptaneCustom({ hardwareIds: [hw], releaseCounter: rc })));
    rc++;
  }
  image.publish();
  log(`  published ${published.length} images`);
  const director = repository(now);
  let i = 0;
  for (const [serial, hw] of ecus) {
    const img = published[i++]!;
    director.putTargetFile(new TargetFile({ path: img.path, length: img.length, hashes: img.hashes, custom: uptaneCustom({ ecuIdentifiers: { [serial]: { hardwareId: hw } }, releaseCounter: img.custom?.['releaseCounter'] as number }) }));
  }
  director.publish();
  log(`Director: assigned one image to each of ${ecus.size} ECUs`);
  const started = performance.now();
  const result = await fullVerification({ director: updater(director, 'director', now), image: updater(image, 'image', now), ecus });
  log(`Full verification (Uptane 2.1 §5.4.4.2) in ${(performance.now() - started).toFixed(1)} ms:`);
  for (const t of result.targets) log(`  ${t.ecuSerial} (${t.hardwareId}) -> ${t.target.path} [${t.target.length} bytes, release ${String(t.releaseCounter)}]`);

  log('Attack: a compromised Director names an image the Image repository never signed');
  director.putTargetFile(new TargetFile({ path: 'gateway-a1/evil.bin', length: 4, hashes: { sha256: '00'.repeat(32) }, custom: uptaneCustom({ ecuIdentifiers: { 'ECU-GW-0001': { hardwareId: 'gateway-a1' } } }) }));
  director.removeTarget(published[0]!.path);
  director.publish();
  try {
    await fullVerification({ director: updater(director, 'director', now), image: updater(image, 'image', now), ecus });
    log('  NOT refused: this is a bug');
    return false;
  } catch (err) {
    const code = (err as { code?: string }).code ?? 'unknown';
    log(`  refused: ${code}: ${(err as Error).message}`);
    return code === 'TARGET_NOT_IN_IMAGE_REPO';
  }
}
