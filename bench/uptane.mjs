// One full Uptane verification cycle (Uptane 2.1 §5.4.4.2) as a Primary runs it: Director and
// Image repository, 10 ECUs, 1,000 image targets (200 of them through a delegated supplier
// role), everything served from memory, so the time is the client's own work (parse, canonical
// JSON, signature checks, the TUF state machine, delegation search, Director/Image matching).
import { createHash } from 'node:crypto';
import {
  DownloadLengthError, FetchError, Metadata, RepositoryBuilder, TargetFile, Targets, commonOf,
  generateSigner, uptaneCustom, verifyThreshold,
} from '@reflash/metadata';
import { Updater, fullVerification } from '@reflash/verify';
import { fmtBytes, fmtInt, fmtStat, measure, printTable } from './lib.mjs';

export const title = 'One full Uptane verification cycle (Director + Image repo, 10 ECUs, 1k image targets)';

const NOW = Date.parse('2026-11-21T12:00:00Z');
const REFERENCE_TIME = NOW + 60_000;
const IMAGE_TARGETS = 1_000;
const SUPPLIER_TARGETS = 200; // of IMAGE_TARGETS, listed by the delegated role
const SUPPLIER_ROLE = 'supplier-brakes';
const ECUS = 10;
const SUPPLIER_ECUS = 3; // ECUs whose image is found through the delegation
const DIRECTOR_BASE = 'https://director.test/metadata/';
const IMAGE_BASE = 'https://image.test/metadata/';
const FAST_BELOW_MS = 50;
const FAST_RUNS = 20;

/** Serves a RepositoryBuilder's published files from memory, counting what is fetched. */
class MemoryFetcher {
  constructor(base, files) {
    this.base = base;
    this.files = files;
    this.fetched = [];
  }

  fetch(url, maxLength) {
    const name = url.startsWith(this.base) ? url.slice(this.base.length) : url;
    this.fetched.push(name);
    const bytes = this.files.get(name);
    if (bytes === undefined) return Promise.reject(new FetchError(404, `404 ${url}`));
    if (bytes.byteLength > maxLength) return Promise.reject(new DownloadLengthError(`${url}: more than ${maxLength} bytes`));
    return Promise.resolve(bytes);
  }
}

class MemoryStore {
  constructor(entries = []) {
    this.files = new Map(entries);
  }

  load(role) {
    return Promise.resolve(this.files.get(role));
  }

  save(role, bytes) {
    this.files.set(role, bytes);
    return Promise.resolve();
  }

  remove(role) {
    this.files.delete(role);
    return Promise.resolve();
  }
}

function topLevelKeys() {
  const k = () => ({ signers: [generateSigner()] });
  return { root: k(), timestamp: k(), snapshot: k(), targets: k() };
}

function sha(alg, s) {
  return createHash(alg).update(s).digest('hex');
}

/**
 * Image repository: 800 images in top-level targets, 200 in a delegated supplier role
 * (`supplier/*\/*`). Image i is for hardware `hw-(i mod 10)` (supplier images: hw-7..hw-9).
 * Targets maps are built in one go (RepositoryBuilder.addTarget re-signs the role per call).
 */
function buildImageRepo() {
  const repo = new RepositoryBuilder({ now: NOW, keys: topLevelKeys() });
  repo.delegate('targets', { name: SUPPLIER_ROLE, paths: ['supplier/*/*'] }, [generateSigner()]);
  const top = new Map();
  const supplier = new Map();
  for (let i = 0; i < IMAGE_TARGETS; i++) {
    const inSupplier = i >= IMAGE_TARGETS - SUPPLIER_TARGETS;
    const hw = inSupplier ? `hw-${ECUS - SUPPLIER_ECUS + (i % SUPPLIER_ECUS)}` : `hw-${i % ECUS}`;
    const path = inSupplier ? `supplier/brakes/fw-${i}.bin` : `images/${hw}/fw-${i}.bin`;
    const tf = new TargetFile({
      path,
      length: 4_194_304 + i,
      hashes: { sha256: sha('sha256', path), sha512: sha('sha512', path) },
      custom: uptaneCustom({ hardwareIds: [hw], releaseCounter: 1 + (i % 7) }),
    });
    (inSupplier ? supplier : top).set(path, tf);
  }
  const replace = (role, targets) => {
    const old = repo.targetsOf(role).signed;
    repo.replaceTargets(role, new Targets({ ...commonOf(old), targets, delegations: old.delegations }));
  };
  replace('targets', top);
  replace(SUPPLIER_ROLE, supplier);
  repo.publish();
  return { repo, top, supplier };
}

/** Director repository for one vehicle: ECU k gets an image for hw-k; the last ones a supplier image. */
function buildDirectorRepo(image) {
  const repo = new RepositoryBuilder({ now: NOW, keys: topLevelKeys() });
  const ecus = new Map();
  const targets = new Map();
  const pick = (pool, hw) => [...pool.values()].find((t) => t.custom.hardwareIds[0] === hw);
  for (let k = 0; k < ECUS; k++) {
    const serial = `VIN0001-ecu-${k}`;
    const hw = `hw-${k}`;
    ecus.set(serial, hw);
    const img = pick(k >= ECUS - SUPPLIER_ECUS ? image.supplier : image.top, hw);
    targets.set(img.path, new TargetFile({
      path: img.path,
      length: img.length,
      hashes: img.hashes,
      custom: uptaneCustom({ ecuIdentifiers: { [serial]: { hardwareId: hw } }, releaseCounter: img.custom.releaseCounter }),
    }));
  }
  const old = repo.targetsOf('targets').signed;
  repo.replaceTargets('targets', new Targets({ ...commonOf(old), targets }));
  repo.publish();
  return { repo, ecus };
}

export async function run({ runs, runsExplicit, log }) {
  const image = buildImageRepo();
  const director = buildDirectorRepo(image);
  const dirFetcher = new MemoryFetcher(DIRECTOR_BASE, director.repo.files);
  const imgFetcher = new MemoryFetcher(IMAGE_BASE, image.repo.files);
  const dirRoot = director.repo.files.get('1.root.json');
  const imgRoot = image.repo.files.get('1.root.json');
  const ecus = director.ecus;

  const sizes = {
    imageTargets: image.repo.files.get('targets.json').byteLength,
    imageSupplier: image.repo.files.get(`${SUPPLIER_ROLE}.json`).byteLength,
    imageSnapshot: image.repo.files.get('snapshot.json').byteLength,
    directorTargets: director.repo.files.get('targets.json').byteLength,
  };
  log(`   Image repo: ${fmtInt(image.top.size)} targets in targets.json (${fmtBytes(sizes.imageTargets)}), ` +
    `${fmtInt(image.supplier.size)} in ${SUPPLIER_ROLE}.json (${fmtBytes(sizes.imageSupplier)}); ` +
    `Director: ${ECUS} targets for ${ECUS} ECUs (${fmtBytes(sizes.directorTargets)}), ${SUPPLIER_ECUS} of them found through the delegation`);

  const updaters = (dirStore, imgStore) => ({
    director: new Updater({ metadataBaseUrl: DIRECTOR_BASE, fetcher: dirFetcher, store: dirStore, referenceTime: REFERENCE_TIME }),
    image: new Updater({ metadataBaseUrl: IMAGE_BASE, fetcher: imgFetcher, store: imgStore, referenceTime: REFERENCE_TIME }),
  });
  const freshStores = () => [new MemoryStore([['root', dirRoot]]), new MemoryStore([['root', imgRoot]])];
  const resetFetchLog = () => {
    dirFetcher.fetched = [];
    imgFetcher.fetched = [];
  };
  const fetchLog = () => ({ director: [...dirFetcher.fetched], image: [...imgFetcher.fetched] });
  const checkResult = (res) => {
    if (res.targets.length !== ECUS) throw new Error(`expected ${ECUS} verified targets, got ${res.targets.length}`);
    const viaSupplier = res.targets.filter((t) => t.imageRole === SUPPLIER_ROLE).length;
    if (viaSupplier !== SUPPLIER_ECUS) throw new Error(`expected ${SUPPLIER_ECUS} targets via ${SUPPLIER_ROLE}, got ${viaSupplier}`);
  };
  const opts = (check) => ({ runs, check, ...(runsExplicit ? {} : { fastRuns: FAST_RUNS, fastBelowMs: FAST_BELOW_MS }) });

  // 1. First cycle: only the trusted roots are stored; everything is fetched and verified.
  let coldFetches;
  const cold = await measure(async () => {
    const [ds, is] = freshStores();
    const u = updaters(ds, is);
    resetFetchLog();
    return fullVerification({ director: u.director, image: u.image, ecus });
  }, opts((res) => { checkResult(res); coldFetches = fetchLog(); }));
  log(`   first cycle:  ${fmtStat(cold)}${cold.note ? ` [${cold.note}]` : ''}`);

  // 2. Second cycle: the stores hold what the first cycle verified and nothing has changed.
  const [dirStore, imgStore] = freshStores();
  {
    const u = updaters(dirStore, imgStore);
    checkResult(await fullVerification({ director: u.director, image: u.image, ecus }));
  }
  let warmFetches;
  const warm = await measure(async () => {
    // Fresh Updaters (a new update cycle) over copies of the stored metadata.
    const u = updaters(new MemoryStore(dirStore.files), new MemoryStore(imgStore.files));
    resetFetchLog();
    return fullVerification({ director: u.director, image: u.image, ecus });
  }, opts((res) => { checkResult(res); warmFetches = fetchLog(); }));
  log(`   second cycle: ${fmtStat(warm)}${warm.note ? ` [${warm.note}]` : ''}`);

  // 3. Breakdown of the first cycle.
  const dirRefresh = await measure(() => {
    const [ds, is] = freshStores();
    return updaters(ds, is).director.refresh();
  }, opts());
  const imgRefresh = await measure(() => {
    const [ds, is] = freshStores();
    return updaters(ds, is).image.refresh();
  }, opts());
  const imgSearch = await measure(async () => {
    const [ds, is] = freshStores();
    const u = updaters(ds, is).image;
    await u.refresh();
    for (const t of director.repo.targetsOf().signed.targets.keys()) {
      if ((await u.search(t)).target === undefined) throw new Error(`image search: ${t} not found`);
    }
  }, opts());
  const imageTargetsBytes = image.repo.files.get('targets.json');
  const root = Metadata.fromBytes(imgRoot, 'root');
  const parseTop = await measure(() => {
    const md = Metadata.fromBytes(imageTargetsBytes, 'targets');
    verifyThreshold('targets', root.signed.keys, root.signed.role('targets'), md);
  }, opts());

  log('');
  const describe = (f) => `director: ${f.director.join(', ')}; image: ${f.image.join(', ')}`;
  const rows = [
    { what: 'full verification, first cycle (only roots trusted)', t: fmtStat(cold), runs: cold.runs, fetched: describe(coldFetches) },
    { what: 'full verification, second cycle (nothing new)', t: fmtStat(warm), runs: warm.runs, fetched: describe(warmFetches) },
    { what: '  first cycle part: Director refresh', t: fmtStat(dirRefresh), runs: dirRefresh.runs, fetched: '' },
    { what: '  first cycle part: Image refresh (top-level targets)', t: fmtStat(imgRefresh), runs: imgRefresh.runs, fetched: '' },
    { what: '  first cycle part: Image refresh + 10 target searches', t: fmtStat(imgSearch), runs: imgSearch.runs, fetched: '' },
    { what: `  Image targets.json alone: fromBytes + verify (${fmtInt(image.top.size)} targets)`, t: fmtStat(parseTop), runs: parseTop.runs, fetched: '' },
  ];
  printTable([
    { key: 'what', title: 'measurement', align: 'left' },
    { key: 't', title: 'median (min-max)' },
    { key: 'runs', title: 'runs' },
    { key: 'fetched', title: 'fetched (metadata names)', align: 'left' },
  ], rows, log);
  return {
    imageTargets: IMAGE_TARGETS,
    supplierTargets: SUPPLIER_TARGETS,
    ecus: ECUS,
    sizes,
    firstCycle: { ...cold, fetched: coldFetches },
    secondCycle: { ...warm, fetched: warmFetches },
    breakdown: { directorRefresh: dirRefresh, imageRefresh: imgRefresh, imageRefreshAndSearch: imgSearch, imageTargetsParseVerify: parseTop },
  };
}
