import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Checkpoint } from '../src/index.js';
import { emptyRoot, formatCheckpoint, generateSigner, leafHash, openCheckpoint, parseCheckpoint, parseSignerKey, parseVerifierKey, signCheckpoint, signNote } from '../src/index.js';
import { ascii, b64, hex, throwsCode, vectors } from './helpers.js';

const [, neumann, cpNote, goBody] = vectors.signedNotes as unknown as [
  unknown, { vkey: string; skey: string }, { vkey: string; note: string }, { checkpointBody: string },
];

void describe('checkpoint: c2sp.org/tlog-checkpoint', () => {
  void it('the derived reference-tree checkpoint opens with the log key and has the size-8 root', () => {
    const { checkpoint } = openCheckpoint(cpNote.note, { origin: 'example.com/reference-tree8', verifiers: [parseVerifierKey(cpNote.vkey)] });
    assert.equal(checkpoint.size, 8);
    assert.equal(hex(checkpoint.rootHash), vectors.referenceTree8.rootsBySize['8']);
    assert.deepEqual(checkpoint.extensions, []);
  });

  void it('signing the same checkpoint with the vector key reproduces the note byte for byte', () => {
    const cp = parseCheckpoint(cpNote.note.slice(0, cpNote.note.lastIndexOf('\n\n') + 1));
    assert.equal(signCheckpoint(cp, [parseSignerKey(neumann.skey)]), cpNote.note);
  });

  void it('the golang/mod TestFormatTree body parses and formats back exactly (root = leaf hash of "hello world")', () => {
    const cp = parseCheckpoint(goBody.checkpointBody);
    assert.equal(cp.origin, 'go.sum database tree');
    assert.equal(cp.size, 123456789012);
    assert.equal(hex(cp.rootHash), hex(leafHash(ascii('hello world'))));
    assert.equal(formatCheckpoint(cp), goBody.checkpointBody);
  });

  void it('extension lines and the empty tree round-trip', () => {
    const cp: Checkpoint = { origin: 'reflash.example/log', size: 0, rootHash: emptyRoot(), extensions: ['ext one', 'two'] };
    const body = formatCheckpoint(cp);
    assert.equal(body, `reflash.example/log\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\next one\ntwo\n`);
    assert.deepEqual(parseCheckpoint(body), cp);
  });

  void describe('malformed bodies are LOG_MALFORMED_CHECKPOINT', () => {
    const root = b64(emptyRoot());
    const cases: Record<string, string> = {
      'no final newline': `o\n1\n${root}`,
      'only two lines': `o\n1\n`,
      'empty origin': `\n1\n${root}\n`,
      'size with a leading zero': `o\n01\n${root}\n`,
      'negative size': `o\n-1\n${root}\n`,
      'size in exponent notation': `o\n1e3\n${root}\n`,
      'size with a space': `o\n 1\n${root}\n`,
      'size beyond 2^53 - 1': `o\n9007199254740992\n${root}\n`,
      'root not base64': `o\n1\nnot-base64!\n`,
      'root of 31 bytes': `o\n1\n${b64(new Uint8Array(31))}\n`,
      'root in unpadded base64': `o\n1\n${root.replace('=', '')}\n`,
      'empty extension line': `o\n1\n${root}\n\n`,
      'empty line between extensions': `o\n1\n${root}\na\n\nb\n`,
      'carriage return': `o\r\n1\n${root}\n`,
    };
    for (const [name, body] of Object.entries(cases)) void it(name, () => void throwsCode(() => parseCheckpoint(body), 'LOG_MALFORMED_CHECKPOINT'));
    void it('oversized bodies', () => void throwsCode(() => parseCheckpoint(`o\n1\n${root}\n${'x'.repeat(70000)}\n`), 'LOG_MALFORMED_CHECKPOINT'));
  });

  void it('formatting an invalid checkpoint is misuse', () => {
    throwsCode(() => formatCheckpoint({ origin: 'a\nb', size: 1, rootHash: emptyRoot(), extensions: [] }), 'LOG_INVALID_ARGUMENT');
    throwsCode(() => formatCheckpoint({ origin: 'o', size: 1.5, rootHash: emptyRoot(), extensions: [] }), 'LOG_INVALID_ARGUMENT');
    throwsCode(() => formatCheckpoint({ origin: 'o', size: 1, rootHash: new Uint8Array(3), extensions: [] }), 'LOG_INVALID_ARGUMENT');
  });

  void it('a checkpoint of another log (origin) is refused even with a valid signature', () => {
    throwsCode(() => openCheckpoint(cpNote.note, { origin: 'example.com/other', verifiers: [parseVerifierKey(cpNote.vkey)] }), 'LOG_ORIGIN_MISMATCH');
  });

  void it('a checkpoint signed by a key other than the log key is refused', () => {
    const { verifierKey } = generateSigner('example.com/reference-tree8');
    throwsCode(() => openCheckpoint(cpNote.note, { origin: 'example.com/reference-tree8', verifiers: [parseVerifierKey(verifierKey)] }), 'LOG_NO_TRUSTED_SIGNATURE');
  });

  void it('a signed note whose text is not a checkpoint is refused after its signature verified', () => {
    const signer = parseSignerKey(neumann.skey);
    const note = signNote(`o\n01\n${b64(emptyRoot())}\n`, [signer]);
    throwsCode(() => openCheckpoint(note, { origin: 'o', verifiers: [parseVerifierKey(neumann.vkey)] }), 'LOG_MALFORMED_CHECKPOINT');
    const tampered = signCheckpoint({ origin: 'o', size: 1, rootHash: emptyRoot(), extensions: [] }, [signer]).replace('o\n1\n', 'o\n2\n');
    throwsCode(() => openCheckpoint(tampered, { origin: 'o', verifiers: [parseVerifierKey(neumann.vkey)] }), 'LOG_BAD_SIGNATURE');
  });
});
