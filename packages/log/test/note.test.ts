import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LogFormatError, LogSignatureError, computeKeyId, generateSigner, openNote, parseNote, parseSignerKey, parseVerifierKey, signNote } from '../src/index.js';
import { ascii, throwsCode, unb64, vectors } from './helpers.js';

const [c2sp, neumann, cpNote] = vectors.signedNotes as unknown as [
  { vkey: string; note: string }, { vkey: string; skey: string; note: string }, { vkey: string; note: string },
];
const neumannText = neumann.note.slice(0, neumann.note.lastIndexOf('\n\n') + 1);

void describe('note: c2sp.org/signed-note', () => {
  void it('the C2SP spec example verifies with its verifier key', () => {
    const v = parseVerifierKey(c2sp.vkey);
    const n = openNote(c2sp.note, [v]);
    assert.equal(n.text, 'This is an example message.\n');
    assert.deepEqual(n.verified.map((s) => s.name), ['example.com/foo']);
  });

  void it('key ID = SHA-256(name || 0x0A || 0x01 || public key)[:4] for both vector keys', () => {
    for (const vkey of [c2sp.vkey, neumann.vkey]) {
      const [name, id, key] = vkey.split('+') as [string, string, string];
      const raw = unb64(key);
      assert.equal(raw[0], 0x01);
      assert.equal(computeKeyId(name, 0x01, raw.subarray(1)).toString(16).padStart(8, '0'), id);
      assert.equal(parseVerifierKey(vkey).keyId, Number.parseInt(id, 16));
    }
  });

  void it('the golang/mod signer key derives the published verifier key and re-signs the note byte for byte', () => {
    const signer = parseSignerKey(neumann.skey);
    assert.equal(signer.verifierKey, neumann.vkey);
    assert.equal(signNote(neumannText, [signer]), neumann.note);
    openNote(neumann.note, [parseVerifierKey(neumann.vkey)]);
  });

  void it('the derived checkpoint note verifies with the PeterNeumann key', () => {
    const n = openNote(ascii(cpNote.note), [parseVerifierKey(cpNote.vkey)]);
    assert.ok(n.text.startsWith('example.com/reference-tree8\n8\n'));
  });

  void it('generated keys round-trip and sign notes that verify', () => {
    const { signerKey, verifierKey } = generateSigner('reflash.example/log');
    assert.match(signerKey, /^PRIVATE\+KEY\+reflash\.example\/log\+[0-9a-f]{8}\+/);
    const signer = parseSignerKey(signerKey);
    assert.equal(signer.verifierKey, verifierKey);
    const note = signNote('hello\n\nworld\n', [signer]);
    const n = openNote(note, [parseVerifierKey(verifierKey)]);
    assert.equal(n.text, 'hello\n\nworld\n', 'the text may contain blank lines: the last one separates');
  });

  void it('signatures from unknown keys are ignored, but one known valid signature is required', () => {
    const a = parseSignerKey(generateSigner('a.example').signerKey);
    const b = parseSignerKey(generateSigner('b.example').signerKey);
    const note = signNote('text\n', [a, b]);
    const n = openNote(note, [parseVerifierKey(a.verifierKey)]);
    assert.deepEqual(n.verified.map((s) => s.name), ['a.example']);
    assert.deepEqual(n.unverified.map((s) => s.name), ['b.example']);
    const e = throwsCode(() => openNote(note, [parseVerifierKey(neumann.vkey)]), 'LOG_NO_TRUSTED_SIGNATURE');
    assert.ok(e instanceof LogSignatureError);
  });

  void it('a key sharing only the name (or only the key ID) with a known key is unknown, not a failure', () => {
    const real = parseSignerKey(generateSigner('log.example').signerKey);
    const impostor = parseSignerKey(generateSigner('log.example').signerKey);
    const note = signNote('text\n', [impostor, real]);
    const n = openNote(note, [parseVerifierKey(real.verifierKey)]);
    assert.equal(n.verified.length, 1);
    assert.equal(n.unverified.length, 1);
  });

  void it('a bad signature from a known key rejects the whole note', () => {
    const lines = neumann.note.split('\n');
    const sig = lines[lines.length - 2]!;
    const raw = unb64(sig.split(' ')[2]!);
    raw[10]! ^= 0x01;
    const forged = neumann.note.replace(sig, `— PeterNeumann ${Buffer.from(raw).toString('base64')}`);
    throwsCode(() => openNote(forged, [parseVerifierKey(neumann.vkey)]), 'LOG_BAD_SIGNATURE');
    const otherText = neumann.note.replace('cryptography', 'cryptograph1');
    throwsCode(() => openNote(otherText, [parseVerifierKey(neumann.vkey)]), 'LOG_BAD_SIGNATURE');
  });

  void describe('malformed notes are LOG_MALFORMED_NOTE', () => {
    const sigLine = neumann.note.slice(neumann.note.lastIndexOf('\n\n') + 2);
    const cases: Record<string, string | Uint8Array> = {
      'no blank line before the signatures': `hello\n${sigLine}`,
      'no trailing newline': neumann.note.slice(0, -1),
      'no signature lines': 'hello\n\n',
      'signature line without em dash': `hello\n\n- PeterNeumann AAAAAAA=\n`,
      'signature line with a hyphen instead of the em dash': `hello\n\n${sigLine.replace('—', '-')}`,
      'signature without base64': 'hello\n\n— PeterNeumann\n',
      'signature base64 with whitespace': 'hello\n\n— PeterNeumann  x08go/ZJ\n',
      'signature shorter than 5 bytes': 'hello\n\n— PeterNeumann AAAAAA==\n',
      'key name with a plus': `hello\n\n${sigLine.replace('PeterNeumann', 'Peter+Neumann')}`,
      'carriage return (control character)': `hello\r\n\n${sigLine}`,
      'NUL byte': `hel\u0000lo\n\n${sigLine}`,
      'tab in the text': `a\tb\n\n${sigLine}`,
      'invalid UTF-8': new Uint8Array([0x68, 0xff, 0x0a, 0x0a, ...ascii(sigLine)]),
      'lone surrogate': `h\ud800\n\n${sigLine}`,
      'only a newline': '\n',
      'empty': '',
    };
    for (const [name, note] of Object.entries(cases)) {
      void it(name, () => {
        const e = throwsCode(() => openNote(note, [parseVerifierKey(neumann.vkey)]), 'LOG_MALFORMED_NOTE');
        assert.ok(e instanceof LogFormatError);
      });
    }
    void it('an empty line between signature lines makes the first one part of the text: its signature fails', () => {
      const note = `${neumannText}\n${sigLine}\n${sigLine}`;
      assert.equal(parseNote(note).signatures.length, 1);
      throwsCode(() => openNote(note, [parseVerifierKey(neumann.vkey)]), 'LOG_BAD_SIGNATURE');
    });
    void it('size and signature-count limits', () => {
      throwsCode(() => parseNote(neumann.note, { maxBytes: 100 }), 'LOG_MALFORMED_NOTE');
      throwsCode(() => parseNote(`hello\n\n${sigLine.repeat(17)}`, { maxSignatures: 16 }), 'LOG_MALFORMED_NOTE');
      assert.equal(parseNote(`hello\n\n${sigLine.repeat(16)}`).signatures.length, 16, 'at least 16 signatures are accepted');
      throwsCode(() => parseNote(`hello\n\n${sigLine.repeat(101)}`), 'LOG_MALFORMED_NOTE');
    });
  });

  void it('malformed key strings are LOG_MALFORMED_KEY', () => {
    const [name, id, key] = neumann.vkey.split('+') as [string, string, string];
    for (const bad of [
      '', name, `${name}+${id}`, `${name}+${id}+${key}+x`, `+${id}+${key}`, `${name}+zzzzzzzz+${key}`, `${name}+${id.slice(1)}+${key}`,
      `${name}+${id}+${key.slice(0, -1)}`, `${name}+00000000+${key}`, `Other+${id}+${key}`, `${name}+${id}+AQ==`,
      `${name}+${id}+${Buffer.from([2, ...unb64(key).subarray(1)]).toString('base64')}`,
    ]) {
      throwsCode(() => parseVerifierKey(bad), 'LOG_MALFORMED_KEY');
    }
    for (const bad of ['', neumann.vkey, neumann.skey.replace('PRIVATE+KEY+', 'PRIVATE+KEX+'), neumann.skey.replace('c74f20a3', 'c74f20a4')]) {
      throwsCode(() => parseSignerKey(bad), 'LOG_MALFORMED_KEY');
    }
  });

  void it('signing refuses text without a final newline or with control characters', () => {
    const signer = parseSignerKey(neumann.skey);
    throwsCode(() => signNote('no newline', [signer]), 'LOG_INVALID_ARGUMENT');
    throwsCode(() => signNote('text\n', []), 'LOG_INVALID_ARGUMENT');
    throwsCode(() => signNote('a\rb\n', [signer]), 'LOG_MALFORMED_NOTE');
    throwsCode(() => generateSigner('has space'), 'LOG_INVALID_ARGUMENT');
  });
});
