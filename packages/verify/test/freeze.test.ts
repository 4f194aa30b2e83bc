/**
 * Freeze attacks (TUF 5.3.10, 5.4.4, 5.5.6, 5.6.5; Uptane 5.4.4.3 step 3 ... 5.4.4.6 step 5):
 * metadata at or past its expiry under the injected reference time is refused.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { generateSigner } from '@reflash/metadata';
import { ExpiredMetadataError } from '../src/errors.js';
import { rejectsWith } from './support/expect.js';
import { NOW, Simulator } from './support/simulator.js';

const DAY = 86_400_000;
const MINUTE = 60_000;

void describe('freeze attacks', () => {
  void it('freeze attack: root expired after rotation is refused with EXPIRED (the new root is still persisted, TUF 5.3.8)', async () => {
    const sim = new Simulator();
    sim.withExpiry('root', MINUTE, () => sim.repo.rotate({}));
    const err = await rejectsWith(sim.refresh({ referenceTime: NOW + MINUTE }), ExpiredMetadataError, 'EXPIRED');
    assert.match(err.message, /^root v2 /);
    assert.equal(sim.store.version('root'), 2);
    assert.deepEqual(sim.store.log, ['save:root']);
    assert.ok(!sim.fetcher.names().some((n) => n.includes('snapshot')));
  });

  void it('freeze attack: expired timestamp is refused with EXPIRED and not persisted', async () => {
    const sim = new Simulator();
    const err = await rejectsWith(sim.refresh({ referenceTime: NOW + DAY }), ExpiredMetadataError, 'EXPIRED');
    assert.match(err.message, /^timestamp v1 /);
    assert.deepEqual(sim.store.log, []);
    assert.deepEqual(sim.fetcher.names(), ['2.root.json', 'timestamp.json']);
  });

  void it('freeze attack: expiry boundary: reference time equal to expires is expired, one ms before is not', async () => {
    await new Simulator().refresh({ referenceTime: NOW + DAY - 1 });
    await rejectsWith(new Simulator().refresh({ referenceTime: NOW + DAY }), ExpiredMetadataError, 'EXPIRED');
  });

  void it('freeze attack: a trusted timestamp that has since expired, with the repository serving the same version, is EXPIRED', async () => {
    const sim = new Simulator();
    await sim.baseline();
    const err = await rejectsWith(sim.refresh({ referenceTime: NOW + DAY }), ExpiredMetadataError, 'EXPIRED');
    assert.match(err.message, /^timestamp v1 /);
    assert.deepEqual(sim.store.log, []);
  });

  void it('freeze attack: expired snapshot is refused with EXPIRED and not persisted', async () => {
    const sim = new Simulator();
    sim.withExpiry('snapshot', MINUTE, () => sim.repo.publish());
    const err = await rejectsWith(sim.refresh({ referenceTime: NOW + MINUTE }), ExpiredMetadataError, 'EXPIRED');
    assert.match(err.message, /^snapshot v2 /);
    assert.deepEqual(sim.store.log, ['save:timestamp']);
  });

  void it('freeze attack: expired top-level targets is refused with EXPIRED and not persisted', async () => {
    const sim = new Simulator();
    sim.withExpiry('targets', MINUTE, () => {
      sim.repo.replaceTargets('targets', sim.repo.targetsOf().signed);
      sim.repo.publish();
    });
    const err = await rejectsWith(sim.refresh({ referenceTime: NOW + MINUTE }), ExpiredMetadataError, 'EXPIRED');
    assert.match(err.message, /^targets v2 /);
    assert.deepEqual(sim.store.log, ['save:timestamp', 'save:snapshot']);
  });

  void it('freeze attack: expired delegated targets is refused with EXPIRED during the target search', async () => {
    const sim = new Simulator();
    sim.withExpiry('targets', MINUTE, () => {
      sim.repo.delegate('targets', { name: 'role-a', paths: ['a/*'] }, [generateSigner()]);
      sim.repo.addTarget('a/x.bin', Buffer.from('x'), undefined, 'role-a');
      sim.repo.publish();
    });
    // top-level targets re-signed with the normal expiry; role-a keeps the short one
    sim.repo.replaceTargets('targets', sim.repo.targetsOf().signed);
    sim.repo.publish();
    const u = await sim.baseline({ referenceTime: NOW + MINUTE });
    const err = await rejectsWith(u.getTargetInfo('a/x.bin'), ExpiredMetadataError, 'EXPIRED');
    assert.match(err.message, /^role-a v1 /);
    assert.deepEqual(sim.fetcher.names(), ['1.role-a.json']);
    assert.deepEqual(sim.store.log, []);
  });
});
