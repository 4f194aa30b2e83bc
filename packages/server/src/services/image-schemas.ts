/** TypeBox route schemas of the Image repository and image routes (validation + OpenAPI). */
import { Type } from 'typebox';

export const ErrorSchema = Type.Object({
  error: Type.Object({
    code: Type.String(),
    message: Type.String(),
    details: Type.Optional(Type.Unknown()),
  }),
}, { description: 'a coded error (see errors.ts)' });

export const errors = (...statuses: number[]): Record<number, typeof ErrorSchema> =>
  Object.fromEntries(statuses.map((s) => [s, ErrorSchema]));

export const Hex64 = Type.String({ pattern: '^[0-9a-fA-F]{64}$' });

export const HashesSchema = Type.Object({ sha256: Type.String(), sha512: Type.String() });

export const ImageInfoSchema = Type.Object({
  filename: Type.String(),
  length: Type.Integer({ minimum: 0 }),
  hashes: HashesSchema,
  uploadedBy: Type.Optional(Type.String()),
  uploadedAt: Type.Optional(Type.String({ description: 'ISO 8601' })),
  signed: Type.Optional(Type.Boolean({ description: 'listed in the current signed Image-repository targets metadata' })),
});

export const ImageListSchema = Type.Object({
  images: Type.Array(ImageInfoSchema),
  next: Type.Optional(Type.String({ description: 'pass as ?after= for the next page' })),
});

export const ImageListQuery = Type.Object({
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
  after: Type.Optional(Type.String({ maxLength: 512 })),
});

export const WildcardParams = Type.Object({ '*': Type.String({ description: 'image path, may contain "/"' }) });

export const UploadHeaders = Type.Object({
  'content-type': Type.Optional(Type.String({ description: 'must be application/octet-stream' })),
  'content-length': Type.Optional(Type.String({ description: 'required: the exact number of bytes' })),
  'x-reflash-sha256': Type.Optional(Type.String({ pattern: '^[0-9a-fA-F]{64}$', description: 'expected SHA-256 of the bytes (hex)' })),
});

/** Documentation only: the body is the raw image, streamed to the blob store unvalidated. */
export const UploadBody = Type.Unknown({ description: 'the image bytes (application/octet-stream)' });

export const DownloadHeaders = Type.Object({
  range: Type.Optional(Type.String({ description: 'one byte range: bytes=a-b, bytes=a- or bytes=-n' })),
});

/** A signed metadata envelope (TUF 1.0 §4.2); parsed and verified from the raw request bytes. */
export const SignedMetadataSchema = Type.Object({
  signatures: Type.Array(Type.Object({ keyid: Type.String(), sig: Type.String() }, { additionalProperties: true })),
  signed: Type.Object({ _type: Type.String() }, { additionalProperties: true }),
}, { additionalProperties: true, description: 'signed TUF metadata' });

export const RoleParams = Type.Object({ role: Type.String({ minLength: 1, maxLength: 255, description: 'root, targets or a delegated role name' }) });
export const FileParams = Type.Object({ file: Type.String({ minLength: 1, maxLength: 600 }) });

export const AcceptedSchema = Type.Object({
  role: Type.String(),
  version: Type.Integer(),
  snapshotVersion: Type.Optional(Type.Integer()),
  timestampVersion: Type.Optional(Type.Integer()),
  activatedKeys: Type.Optional(Type.Array(Type.String())),
  retiredKeys: Type.Optional(Type.Array(Type.String())),
});

export const KeyJSON = Type.Object({
  keytype: Type.String(),
  scheme: Type.String(),
  keyval: Type.Object({ public: Type.String() }, { additionalProperties: true }),
}, { additionalProperties: true, description: 'TUF key object' });

export const OnlineKeySchema = Type.Object({
  keyId: Type.String(),
  role: Type.String(),
  status: Type.String({ description: 'active or pending' }),
  key: KeyJSON,
  createdAt: Type.String(),
});

export const OnlineKeysSchema = Type.Object({
  snapshot: Type.Object({ active: Type.Array(OnlineKeySchema), pending: Type.Array(OnlineKeySchema) }),
  timestamp: Type.Object({ active: Type.Array(OnlineKeySchema), pending: Type.Array(OnlineKeySchema) }),
});

export const CreateOnlineKeyBody = Type.Object({ role: Type.Union([Type.Literal('snapshot'), Type.Literal('timestamp')]) }, { additionalProperties: false });

export const MetadataFileSchema = Type.Unknown({ description: 'the metadata file, bytes exactly as stored (application/json)' });
