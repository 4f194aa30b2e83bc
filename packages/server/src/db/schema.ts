/**
 * The database schema as Kysely types. One schema for SQLite and PostgreSQL; times are integer
 * milliseconds since the epoch; metadata and signed documents are stored as the exact bytes
 * served (so a signature never depends on re-serialisation).
 */
import type { ColumnType, Generated } from 'kysely';

type Bytes = Buffer;

export interface OnlineKeyTable {
  /** TUF key id */
  key_id: string;
  /** 'image' | 'director' */
  repo: string;
  /** root | targets | snapshot | timestamp */
  role: string;
  /** public key as TUF key JSON */
  public_json: string;
  /** PKCS#8 PEM encrypted with the server master key (AES-256-CBC via node:crypto) */
  private_pem: string;
  /** 'pending' (created, not yet in a root) | 'active' | 'retired' */
  status: string;
  created_at: number;
}

export interface RepoMetadataTable {
  /** 'image' or 'director' (director rows are per vehicle: vin set) */
  repo: string;
  /** '' for the Image repository and the shared Director root */
  vin: string;
  role: string;
  version: number;
  bytes: Bytes;
  expires_at: number;
  created_at: number;
}

export interface ImageTable {
  filename: string;
  length: number;
  sha256: string;
  sha512: string;
  /** blob store key */
  blob_key: string;
  uploaded_by: string;
  created_at: number;
}

export interface VehicleTable {
  vin: string;
  model: string;
  primary_ecu_serial: string;
  created_at: number;
  last_seen_at: number | null;
  /** check-ins accepted */
  manifest_count: number;
}

export interface EcuTable {
  serial: string;
  vin: string;
  hardware_id: string;
  /** TUF key JSON of the ECU's public key */
  public_key: string;
  key_id: string;
  last_counter: number | null;
  installed_filename: string | null;
  installed_length: number | null;
  installed_sha256: string | null;
  installed_at: number | null;
}

export interface EcuHistoryTable {
  id: Generated<number>;
  vin: string;
  serial: string;
  filename: string;
  length: number;
  sha256: string;
  report_counter: number;
  reported_at: number;
}

export interface AttackReportTable {
  id: Generated<number>;
  vin: string;
  serial: string;
  report: string;
  reported_at: number;
}

export interface AssignmentTable {
  id: Generated<number>;
  vin: string;
  ecu_serial: string;
  hardware_id: string;
  filename: string;
  length: number;
  sha256: string;
  sha512: string;
  release_counter: number | null;
  /** pending | installed | failed | cancelled */
  status: string;
  failure: string | null;
  created_by: string;
  created_at: number;
  completed_at: number | null;
}

export interface TokenTable {
  id: string;
  name: string;
  role: string;
  /** SHA-256 of the token, hex */
  token_hash: string;
  created_at: number;
  revoked_at: number | null;
}

export interface RequestNonceTable {
  key_id: string;
  nonce: string;
  expires_at: number;
}

/** Accountability log (migration 0005): one row per appended entry; the index is its leaf index. */
export interface LogLeafTable {
  idx: number;
  /** the entry bytes (canonical JSON), exactly as hashed */
  entry: Bytes;
  /** RFC 9162 leaf hash SHA-256(0x00 || entry), computed at append time */
  leaf_hash: Bytes;
  appended_at: number;
}

/** Complete-subtree hashes (level 0 = leaf hashes), as CompactRange.append reports them. */
export interface LogNodeTable {
  level: number;
  idx: number;
  hash: Bytes;
}

/** Every signed checkpoint (c2sp.org/tlog-checkpoint), by tree size. */
export interface LogCheckpointTable {
  size: number;
  root: Bytes;
  /** the signed note, as signed by the log key */
  note: string;
  /** witness cosignature lines added later (c2sp.org/tlog-cosignature), '' if none */
  cosignatures: string;
  created_at: number;
}

/** The log's secrets (one row, id 'log'): note signing seed and VIN salt, sealed with the master key. */
export interface LogKeyTable {
  id: string;
  origin: string;
  verifier_key: string;
  sealed_seed: string;
  sealed_vin_salt: string;
  created_at: number;
}

export interface SchemaMigrationInfo {
  name: ColumnType<string, never, never>;
}

export interface Database {
  online_keys: OnlineKeyTable;
  repo_metadata: RepoMetadataTable;
  images: ImageTable;
  vehicles: VehicleTable;
  ecus: EcuTable;
  ecu_history: EcuHistoryTable;
  attack_reports: AttackReportTable;
  assignments: AssignmentTable;
  api_tokens: TokenTable;
  request_nonces: RequestNonceTable;
  log_leaves: LogLeafTable;
  log_nodes: LogNodeTable;
  log_checkpoints: LogCheckpointTable;
  log_keys: LogKeyTable;
}
