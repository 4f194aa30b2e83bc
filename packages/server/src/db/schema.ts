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
  /** campaign targeting (migration 0006), optional at provisioning */
  model_year: number | null;
  region: string | null;
  /** IANA time zone for maintenance windows; null: UTC */
  time_zone: string | null;
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
  /** the campaign that created it (migration 0006); null for direct assignments. Campaign
   * assignments may also be 'scheduled': created, not yet released to the Director. */
  campaign_id: string | null;
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

/** SUMS (migration 0007, R156 7.1): the software catalogue, one row per Image-repository file. */
export interface SumsSoftwareTable {
  filename: string;
  part_number: string;
  /** dotted numeric version, e.g. 2.1.0 */
  version: string;
  /** sortable form of `version` (each component zero-padded), compared as text in SQL */
  version_key: string;
  length: number;
  sha256: string;
  sha512: string;
  /** JSON array of compatible hardware ids */
  hardware_ids: string;
  created_by: string;
  created_at: number;
}

/** "image `filename` needs part `requires_part_number` >= `min_version`" */
export interface SumsDependencyTable {
  id: Generated<number>;
  filename: string;
  requires_part_number: string;
  min_version: string;
  min_version_key: string;
  created_by: string;
  created_at: number;
}

/** RXSWIN registry: which software set defines an RXSWIN of a vehicle type under a regulation. */
export interface SumsRxswinTable {
  id: Generated<number>;
  model: string;
  regulation: string;
  rxswin: string;
  /** JSON array of {hardwareId, filename}, sorted */
  software: string;
  created_by: string;
  created_at: number;
}

/** Impact record of an update package (R156 7.1.1.e/f). */
export interface SumsImpactTable {
  id: Generated<number>;
  /** canonical JSON of the package images {hardwareId: filename} */
  package: string;
  /** 0 | 1 */
  touches_type_approved: number;
  /** JSON array of RXSWINs the update changes */
  rxswins: string;
  approval_ref: string | null;
  notes: string | null;
  created_by: string;
  created_at: number;
}

/** The auditable register per RXSWIN: software before and after every vehicle update. */
export interface SumsRegisterTable {
  id: Generated<number>;
  vin: string;
  model: string;
  regulation: string;
  rxswin_before: string;
  rxswin_after: string;
  /** JSON array of {serial, hardwareId, filename, length, sha256}, as the ECUs attested them */
  software_before: string;
  software_after: string;
  /** the highest ECU report counter of the updated ECUs in that check-in */
  report_counter: number;
  recorded_at: number;
}

/** SUMS signing keys (one row, id 'inspection'): note signing seed sealed with the master key. */
export interface SumsKeyTable {
  id: string;
  name: string;
  verifier_key: string;
  sealed_seed: string;
  created_at: number;
}

/** Software update campaigns (migration 0006, src/campaigns/). */
export interface CampaignTable {
  id: string;
  purpose: string;
  /** the campaign definition as JSON (src/campaigns/model.ts CampaignSpec) */
  spec: string;
  /** draft | approved | running | paused | finished | cancelled */
  status: string;
  created_by: string;
  created_at: number;
  approved_by: string | null;
  approved_at: number | null;
  approval_reference: string | null;
  /** index of the rollout group being rolled out; -1 before start */
  current_group: number;
  /** failures of the current group the operator accepted when resuming */
  acknowledged_failures: number;
  started_at: number | null;
  finished_at: number | null;
  updated_at: number;
}

export interface CampaignEventTable {
  id: Generated<number>;
  campaign_id: string;
  at: number;
  /** `token:<id>` or `system` */
  by: string;
  from_state: string;
  to_state: string;
  reason: string | null;
}

/** One row per targeted vehicle and campaign: its rollout group and campaign state. */
export interface CampaignVehicleStateTable {
  campaign_id: string;
  vin: string;
  group_idx: number;
  state: string;
  reason: string | null;
  updated_at: number;
}

/** Vehicles per (campaign, group, state): the sum over shards (a shard may be negative). */
export interface CampaignProgressTable {
  campaign_id: string;
  group_idx: number;
  state: string;
  shard: number;
  n: number;
}

/** Failed or rolled-back vehicles per reason (first 200 characters): the sum over shards. */
export interface CampaignFailureReasonTable {
  campaign_id: string;
  reason: string;
  shard: number;
  n: number;
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
  campaigns: CampaignTable;
  campaign_events: CampaignEventTable;
  campaign_vehicle_states: CampaignVehicleStateTable;
  campaign_progress: CampaignProgressTable;
  campaign_failure_reasons: CampaignFailureReasonTable;
  sums_software: SumsSoftwareTable;
  sums_dependencies: SumsDependencyTable;
  sums_rxswins: SumsRxswinTable;
  sums_impacts: SumsImpactTable;
  sums_register: SumsRegisterTable;
  sums_keys: SumsKeyTable;
}
