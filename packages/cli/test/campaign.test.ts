/** `reflash campaign ...`: the requests each subcommand sends to /api/v1/campaigns. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UsageError } from '@reflash/metadata';
import { AdminClient } from '../src/client/admin.js';
import { captureOutput } from '../src/client/output.js';
import { campaignActionCommand, campaignGetCommand, createCampaignCommand } from '../src/commands/campaign.js';
import { TestServer } from './support/http.js';

void describe('reflash campaign', () => {
  let server: TestServer;
  const seen: Array<{ method: string; url: string; body: string; auth: string | undefined }> = [];
  const dir = mkdtempSync(join(tmpdir(), 'reflash-campaign-'));
  before(async () => {
    server = await TestServer.start((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        seen.push({ method: req.method ?? '', url: req.url ?? '', body: Buffer.concat(chunks).toString('utf8'), auth: req.headers.authorization });
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"id":"cmp-0123456789ab","status":"draft"}');
      });
    });
  });
  after(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const client = (): AdminClient => new AdminClient({ baseUrl: server.origin, token: 'rft_abcdefghijklmnopqrstuvwxyz' });

  void it('create posts the definition file; approve sends the reference; actions and reads use the campaign path', async () => {
    const file = join(dir, 'campaign.json');
    writeFileSync(file, JSON.stringify({ purpose: 'Brake fix', images: { 'hw-brake': 'brake-2.bin' } }));
    const out = captureOutput();
    await createCampaignCommand(client(), file, out);
    await campaignActionCommand(client(), 'approve', 'cmp-0123456789ab', { approvalReference: 'TUV-42' }, out);
    await campaignActionCommand(client(), 'pause', 'cmp-0123456789ab', { reason: 'faults' }, out);
    await campaignGetCommand(client(), 'cmp-0123456789ab', '/progress', out);
    await campaignGetCommand(client(), undefined, '', out, 'running');
    assert.deepEqual(seen.map((s) => [s.method, s.url]), [
      ['POST', '/api/v1/campaigns'], ['POST', '/api/v1/campaigns/cmp-0123456789ab/approve'], ['POST', '/api/v1/campaigns/cmp-0123456789ab/pause'],
      ['GET', '/api/v1/campaigns/cmp-0123456789ab/progress'], ['GET', '/api/v1/campaigns?status=running'],
    ]);
    assert.deepEqual(JSON.parse(seen[0]!.body), { purpose: 'Brake fix', images: { 'hw-brake': 'brake-2.bin' } });
    assert.deepEqual(JSON.parse(seen[1]!.body), { approvalReference: 'TUV-42' });
    assert.deepEqual(JSON.parse(seen[2]!.body), { reason: 'faults' });
    assert.ok(seen.every((s) => s.auth === 'Bearer rft_abcdefghijklmnopqrstuvwxyz'));
    assert.equal(out.lines.length, 5);
  });

  void it('--rxswin and --rxswin-under add RXSWIN target entries to the definition (UN R156 7.1.1.b/d)', async () => {
    seen.length = 0;
    const file = join(dir, 'rx.json');
    writeFileSync(file, JSON.stringify({ purpose: 'Brake fix', target: { models: ['M1'], rxswins: ['R13H-M1-0001'] } }));
    await createCampaignCommand(client(), file, captureOutput(), { rxswin: ['R13H-M1-0002'], rxswinUnder: ['R79', 'R13-H=R13H-M1-0003'] });
    assert.deepEqual(JSON.parse(seen[0]!.body), {
      purpose: 'Brake fix',
      target: { models: ['M1'], rxswins: ['R13H-M1-0001', 'R13H-M1-0002', { regulation: 'R79' }, { regulation: 'R13-H', rxswin: 'R13H-M1-0003' }] },
    });
    seen.length = 0;
    await assert.rejects(createCampaignCommand(client(), file, captureOutput(), { rxswinUnder: ['=R13H-M1-0003'] }), UsageError);
    await assert.rejects(createCampaignCommand(client(), file, captureOutput(), { rxswin: ['R13 H'] }), UsageError);
    assert.equal(seen.length, 0);
  });

  void it('refuses a malformed id or an unreadable file before sending anything', async () => {
    seen.length = 0;
    const out = captureOutput();
    await assert.rejects(campaignActionCommand(client(), 'start', '../tokens', {}, out), UsageError);
    await assert.rejects(createCampaignCommand(client(), join(dir, 'missing.json'), out), UsageError);
    assert.equal(seen.length, 0);
  });
});
