/**
 * The server's error catalogue, in one file (CONVENTIONS.md §6): every error a client can get,
 * with a stable code, its HTTP status and a message. A test checks that each entry is used and
 * that codes are unique. Responses look like `{ "error": { "code", "message", "details"? } }`.
 */
export const ERRORS = {
  VALIDATION_FAILED: { status: 400, message: 'the request does not match the route schema' },
  BAD_JSON: { status: 400, message: 'the request body is not valid JSON' },
  BAD_METADATA: { status: 400, message: 'the metadata is malformed' },
  BAD_MANIFEST: { status: 400, message: 'the vehicle manifest is malformed' },
  BAD_RANGE: { status: 416, message: 'the requested range cannot be satisfied' },
  UNAUTHENTICATED: { status: 401, message: 'authentication required' },
  BAD_TOKEN: { status: 401, message: 'the API token is unknown or revoked' },
  BAD_REQUEST_SIGNATURE: { status: 401, message: 'the request signature is missing, malformed or does not verify' },
  STALE_REQUEST: { status: 401, message: 'the request signature is too old or from the future' },
  REPLAYED_REQUEST: { status: 401, message: 'the request nonce was already used' },
  FORBIDDEN: { status: 403, message: 'the credentials do not allow this operation' },
  NOT_FOUND: { status: 404, message: 'no such resource' },
  VEHICLE_NOT_FOUND: { status: 404, message: 'no such vehicle' },
  IMAGE_NOT_FOUND: { status: 404, message: 'no such image' },
  METADATA_NOT_FOUND: { status: 404, message: 'no such metadata file' },
  TOKEN_NOT_FOUND: { status: 404, message: 'no such token' },
  VEHICLE_EXISTS: { status: 409, message: 'a vehicle with this VIN already exists' },
  ECU_EXISTS: { status: 409, message: 'an ECU with this serial is already registered' },
  IMAGE_EXISTS: { status: 409, message: 'an image with this file name already exists with other content' },
  REPO_NOT_INITIALISED: { status: 409, message: 'the Image repository has no root yet' },
  REPO_ALREADY_INITIALISED: { status: 409, message: 'the Image repository already has a root' },
  METADATA_REJECTED: { status: 422, message: 'the metadata does not verify against the trusted metadata' },
  MANIFEST_REJECTED: { status: 422, message: 'the vehicle manifest was refused' },
  IMAGE_NOT_UPLOADED: { status: 422, message: 'the metadata names an image whose bytes were not uploaded' },
  ASSIGNMENT_INVALID: { status: 422, message: 'the assignment cannot be made' },
  ASSIGNMENT_CONFLICT: { status: 409, message: 'an ECU is in a running campaign: pause or cancel it, or wait until it is done for the vehicle' },
  LENGTH_REQUIRED: { status: 411, message: 'Content-Length is required' },
  PAYLOAD_TOO_LARGE: { status: 413, message: 'the request body is too large' },
  UPLOAD_INCOMPLETE: { status: 400, message: 'the upload ended before its declared length' },
  UPLOAD_MISMATCH: { status: 422, message: 'the uploaded bytes do not match the declared hash' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, message: 'unsupported content type' },
  SHUTTING_DOWN: { status: 503, message: 'the server is shutting down' },
  NOT_READY: { status: 503, message: 'the server is not ready' },
  INTERNAL: { status: 500, message: 'internal server error' },
  LOG_ENTRY_NOT_FOUND: { status: 404, message: 'no accountability log entry with this index or leaf hash under the signed tree' },
  LOG_CHECKPOINT_NOT_FOUND: { status: 404, message: 'no signed accountability log checkpoint of this tree size' },
  LOG_TILE_NOT_FOUND: { status: 404, message: 'no such tile in the signed accountability log' },
  LOG_BAD_RANGE: { status: 400, message: 'the tree sizes or index are outside the signed accountability log' },
  LOG_BAD_COSIGNATURE: { status: 422, message: 'the cosignature does not verify for this checkpoint and witness key' },
  LOG_HALTED: { status: 503, message: 'the accountability log refuses to sign new checkpoints after an integrity alert' },
  SUMS_INVALID: { status: 422, message: 'the software-update management record is inconsistent with the catalogue or the Image repository' },
  SUMS_CONFLICT: { status: 409, message: 'a software-update management record with this identity already exists with other content' },
  RETENTION_NOT_ELAPSED: { status: 409, message: 'records younger than the configured retention period cannot be removed' },
  CAMPAIGN_NOT_FOUND: { status: 404, message: 'no such campaign' },
  CAMPAIGN_INVALID: { status: 422, message: 'the campaign definition cannot be used' },
  CAMPAIGN_STATE: { status: 409, message: 'the campaign is not in a state that allows this' },
  CAMPAIGN_APPROVAL_REFERENCE_REQUIRED: { status: 422, message: 'the campaign touches a type-approved system: a technical-service approval reference is required' },
  CAMPAIGN_TWO_PERSON_RULE: { status: 403, message: 'a campaign must be approved by someone other than its creator' },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof ERRORS;

export class ApiError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly details: unknown;

  constructor(code: ErrorCode, message?: string, details?: unknown, options?: { cause?: unknown }) {
    super(message ?? ERRORS[code].message, options);
    this.code = code;
    this.status = ERRORS[code].status;
    this.details = details;
  }
}

export interface ErrorBody {
  error: { code: string; message: string; details?: unknown };
}
