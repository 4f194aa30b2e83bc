/**
 * Migrations, in code (no files to find at run time), for both dialects. Each migration is
 * append-only: never edit one that has shipped; add the next.
 */
import { sql } from 'kysely';
import type { Kysely, Migration, MigrationProvider } from 'kysely';

export type Dialect = 'sqlite' | 'postgres';

function migrations(dialect: Dialect): Record<string, Migration> {
  const bytes = dialect === 'postgres' ? 'bytea' : 'blob';
  const big = 'bigint';
  const serial = dialect === 'postgres' ? 'bigserial' : 'integer';
  return {
    '0001_initial': {
      async up(db: Kysely<unknown>): Promise<void> {
        await db.schema.createTable('online_keys')
          .addColumn('key_id', 'text', (c) => c.primaryKey())
          .addColumn('repo', 'text', (c) => c.notNull())
          .addColumn('role', 'text', (c) => c.notNull())
          .addColumn('public_json', 'text', (c) => c.notNull())
          .addColumn('private_pem', 'text', (c) => c.notNull())
          .addColumn('status', 'text', (c) => c.notNull())
          .addColumn('created_at', big, (c) => c.notNull())
          .execute();
        await db.schema.createTable('repo_metadata')
          .addColumn('repo', 'text', (c) => c.notNull())
          .addColumn('vin', 'text', (c) => c.notNull())
          .addColumn('role', 'text', (c) => c.notNull())
          .addColumn('version', 'integer', (c) => c.notNull())
          .addColumn('bytes', bytes, (c) => c.notNull())
          .addColumn('expires_at', big, (c) => c.notNull())
          .addColumn('created_at', big, (c) => c.notNull())
          .addPrimaryKeyConstraint('repo_metadata_pk', ['repo', 'vin', 'role', 'version'])
          .execute();
        await db.schema.createTable('images')
          .addColumn('filename', 'text', (c) => c.primaryKey())
          .addColumn('length', big, (c) => c.notNull())
          .addColumn('sha256', 'text', (c) => c.notNull())
          .addColumn('sha512', 'text', (c) => c.notNull())
          .addColumn('blob_key', 'text', (c) => c.notNull())
          .addColumn('uploaded_by', 'text', (c) => c.notNull())
          .addColumn('created_at', big, (c) => c.notNull())
          .execute();
        await db.schema.createTable('vehicles')
          .addColumn('vin', 'text', (c) => c.primaryKey())
          .addColumn('model', 'text', (c) => c.notNull())
          .addColumn('primary_ecu_serial', 'text', (c) => c.notNull())
          .addColumn('created_at', big, (c) => c.notNull())
          .addColumn('last_seen_at', big)
          .addColumn('manifest_count', 'integer', (c) => c.notNull().defaultTo(0))
          .execute();
        await db.schema.createTable('ecus')
          .addColumn('serial', 'text', (c) => c.primaryKey())
          .addColumn('vin', 'text', (c) => c.notNull().references('vehicles.vin'))
          .addColumn('hardware_id', 'text', (c) => c.notNull())
          .addColumn('public_key', 'text', (c) => c.notNull())
          .addColumn('key_id', 'text', (c) => c.notNull())
          .addColumn('last_counter', big)
          .addColumn('installed_filename', 'text')
          .addColumn('installed_length', big)
          .addColumn('installed_sha256', 'text')
          .addColumn('installed_at', big)
          .execute();
        await db.schema.createIndex('ecus_vin').on('ecus').column('vin').execute();
        await db.schema.createIndex('ecus_key_id').on('ecus').column('key_id').execute();
        await db.schema.createTable('ecu_history')
          .addColumn('id', serial, (c) => c.primaryKey())
          .addColumn('vin', 'text', (c) => c.notNull())
          .addColumn('serial', 'text', (c) => c.notNull())
          .addColumn('filename', 'text', (c) => c.notNull())
          .addColumn('length', big, (c) => c.notNull())
          .addColumn('sha256', 'text', (c) => c.notNull())
          .addColumn('report_counter', big, (c) => c.notNull())
          .addColumn('reported_at', big, (c) => c.notNull())
          .execute();
        await db.schema.createIndex('ecu_history_vin').on('ecu_history').columns(['vin', 'reported_at']).execute();
        await db.schema.createTable('attack_reports')
          .addColumn('id', serial, (c) => c.primaryKey())
          .addColumn('vin', 'text', (c) => c.notNull())
          .addColumn('serial', 'text', (c) => c.notNull())
          .addColumn('report', 'text', (c) => c.notNull())
          .addColumn('reported_at', big, (c) => c.notNull())
          .execute();
        await db.schema.createTable('assignments')
          .addColumn('id', serial, (c) => c.primaryKey())
          .addColumn('vin', 'text', (c) => c.notNull())
          .addColumn('ecu_serial', 'text', (c) => c.notNull())
          .addColumn('hardware_id', 'text', (c) => c.notNull())
          .addColumn('filename', 'text', (c) => c.notNull())
          .addColumn('length', big, (c) => c.notNull())
          .addColumn('sha256', 'text', (c) => c.notNull())
          .addColumn('sha512', 'text', (c) => c.notNull())
          .addColumn('release_counter', big)
          .addColumn('status', 'text', (c) => c.notNull())
          .addColumn('failure', 'text')
          .addColumn('created_by', 'text', (c) => c.notNull())
          .addColumn('created_at', big, (c) => c.notNull())
          .addColumn('completed_at', big)
          .execute();
        await db.schema.createIndex('assignments_vin_status').on('assignments').columns(['vin', 'status']).execute();
        // At most one open (pending) assignment per ECU.
        await sql`create unique index assignments_one_pending on assignments (ecu_serial) where status = 'pending'`.execute(db);
        await db.schema.createTable('api_tokens')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('name', 'text', (c) => c.notNull())
          .addColumn('role', 'text', (c) => c.notNull())
          .addColumn('token_hash', 'text', (c) => c.notNull().unique())
          .addColumn('created_at', big, (c) => c.notNull())
          .addColumn('revoked_at', big)
          .execute();
        await db.schema.createTable('request_nonces')
          .addColumn('key_id', 'text', (c) => c.notNull())
          .addColumn('nonce', 'text', (c) => c.notNull())
          .addColumn('expires_at', big, (c) => c.notNull())
          .addPrimaryKeyConstraint('request_nonces_pk', ['key_id', 'nonce'])
          .execute();
      },
    },
    '0005_accountability_log': {
      // The accountability log (src/audit/README.md). SQLite: idx is the rowid of log_leaves
      // (INTEGER PRIMARY KEY) and log_nodes is clustered on its key (WITHOUT ROWID).
      async up(db: Kysely<unknown>): Promise<void> {
        const idx = dialect === 'postgres' ? 'bigint' : 'integer';
        await db.schema.createTable('log_leaves')
          .addColumn('idx', idx, (c) => c.primaryKey())
          .addColumn('entry', bytes, (c) => c.notNull())
          .addColumn('leaf_hash', bytes, (c) => c.notNull())
          .addColumn('appended_at', big, (c) => c.notNull())
          .execute();
        await db.schema.createIndex('log_leaves_leaf_hash').on('log_leaves').column('leaf_hash').execute();
        let nodes = db.schema.createTable('log_nodes')
          .addColumn('level', 'integer', (c) => c.notNull())
          .addColumn('idx', big, (c) => c.notNull())
          .addColumn('hash', bytes, (c) => c.notNull())
          .addPrimaryKeyConstraint('log_nodes_pk', ['level', 'idx']);
        if (dialect === 'sqlite') nodes = nodes.modifyEnd(sql`without rowid`);
        await nodes.execute();
        await db.schema.createTable('log_checkpoints')
          .addColumn('size', big, (c) => c.primaryKey())
          .addColumn('root', bytes, (c) => c.notNull())
          .addColumn('note', 'text', (c) => c.notNull())
          .addColumn('cosignatures', 'text', (c) => c.notNull().defaultTo(''))
          .addColumn('created_at', big, (c) => c.notNull())
          .execute();
        await db.schema.createTable('log_keys')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('origin', 'text', (c) => c.notNull())
          .addColumn('verifier_key', 'text', (c) => c.notNull())
          .addColumn('sealed_seed', 'text', (c) => c.notNull())
          .addColumn('sealed_vin_salt', 'text', (c) => c.notNull())
          .addColumn('created_at', big, (c) => c.notNull())
          .execute();
      },
    },
    '0007_sums': {
      // R156 7.1 software-update management records (src/sums): catalogue, interdependencies,
      // RXSWIN registry, impact records, the register per RXSWIN, the inspection signing key.
      async up(db: Kysely<unknown>): Promise<void> {
        await db.schema.createTable('sums_software')
          .addColumn('filename', 'text', (c) => c.primaryKey())
          .addColumn('part_number', 'text', (c) => c.notNull())
          .addColumn('version', 'text', (c) => c.notNull())
          .addColumn('version_key', 'text', (c) => c.notNull())
          .addColumn('length', big, (c) => c.notNull())
          .addColumn('sha256', 'text', (c) => c.notNull())
          .addColumn('sha512', 'text', (c) => c.notNull())
          .addColumn('hardware_ids', 'text', (c) => c.notNull())
          .addColumn('created_by', 'text', (c) => c.notNull())
          .addColumn('created_at', big, (c) => c.notNull())
          .execute();
        await db.schema.createIndex('sums_software_part').on('sums_software').columns(['part_number', 'version_key']).execute();
        await db.schema.createTable('sums_dependencies')
          .addColumn('id', serial, (c) => c.primaryKey())
          .addColumn('filename', 'text', (c) => c.notNull())
          .addColumn('requires_part_number', 'text', (c) => c.notNull())
          .addColumn('min_version', 'text', (c) => c.notNull())
          .addColumn('min_version_key', 'text', (c) => c.notNull())
          .addColumn('created_by', 'text', (c) => c.notNull())
          .addColumn('created_at', big, (c) => c.notNull())
          .execute();
        await db.schema.createIndex('sums_dependencies_filename').on('sums_dependencies').column('filename').execute();
        await db.schema.createTable('sums_rxswins')
          .addColumn('id', serial, (c) => c.primaryKey())
          .addColumn('model', 'text', (c) => c.notNull())
          .addColumn('regulation', 'text', (c) => c.notNull())
          .addColumn('rxswin', 'text', (c) => c.notNull())
          .addColumn('software', 'text', (c) => c.notNull())
          .addColumn('created_by', 'text', (c) => c.notNull())
          .addColumn('created_at', big, (c) => c.notNull())
          .addUniqueConstraint('sums_rxswins_unique', ['model', 'regulation', 'rxswin'])
          .execute();
        await db.schema.createTable('sums_impacts')
          .addColumn('id', serial, (c) => c.primaryKey())
          .addColumn('package', 'text', (c) => c.notNull())
          .addColumn('touches_type_approved', 'integer', (c) => c.notNull())
          .addColumn('rxswins', 'text', (c) => c.notNull())
          .addColumn('approval_ref', 'text')
          .addColumn('notes', 'text')
          .addColumn('created_by', 'text', (c) => c.notNull())
          .addColumn('created_at', big, (c) => c.notNull())
          .execute();
        await db.schema.createIndex('sums_impacts_package').on('sums_impacts').column('package').execute();
        await db.schema.createTable('sums_register')
          .addColumn('id', serial, (c) => c.primaryKey())
          .addColumn('vin', 'text', (c) => c.notNull())
          .addColumn('model', 'text', (c) => c.notNull())
          .addColumn('regulation', 'text', (c) => c.notNull())
          .addColumn('rxswin_before', 'text', (c) => c.notNull())
          .addColumn('rxswin_after', 'text', (c) => c.notNull())
          .addColumn('software_before', 'text', (c) => c.notNull())
          .addColumn('software_after', 'text', (c) => c.notNull())
          .addColumn('report_counter', big, (c) => c.notNull())
          .addColumn('recorded_at', big, (c) => c.notNull())
          .execute();
        await db.schema.createIndex('sums_register_before').on('sums_register').columns(['rxswin_before', 'recorded_at']).execute();
        await db.schema.createIndex('sums_register_after').on('sums_register').columns(['rxswin_after', 'recorded_at']).execute();
        await db.schema.createIndex('sums_register_model').on('sums_register').columns(['model', 'recorded_at']).execute();
        // Fleet progress by image ("how many ECUs of hardware H run which image"): an index-only scan.
        await db.schema.createIndex('ecus_hardware_installed').on('ecus').columns(['hardware_id', 'installed_filename']).execute();
        await db.schema.createTable('sums_keys')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('name', 'text', (c) => c.notNull())
          .addColumn('verifier_key', 'text', (c) => c.notNull())
          .addColumn('sealed_seed', 'text', (c) => c.notNull())
          .addColumn('created_at', big, (c) => c.notNull())
          .execute();
      },
    },
    '0006_campaigns': {
      // Software update campaigns (src/campaigns/): definitions, lifecycle events, per-vehicle
      // state (progress is grouped counts on (campaign_id, group_idx, state): index-only).
      async up(db: Kysely<unknown>): Promise<void> {
        await db.schema.alterTable('vehicles').addColumn('model_year', 'integer').execute();
        await db.schema.alterTable('vehicles').addColumn('region', 'text').execute();
        await db.schema.alterTable('vehicles').addColumn('time_zone', 'text').execute();
        await db.schema.alterTable('assignments').addColumn('campaign_id', 'text').execute();
        await db.schema.createIndex('assignments_campaign_status').on('assignments').columns(['campaign_id', 'status']).execute();
        await db.schema.createTable('campaigns')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('purpose', 'text', (c) => c.notNull())
          .addColumn('spec', 'text', (c) => c.notNull())
          .addColumn('status', 'text', (c) => c.notNull())
          .addColumn('created_by', 'text', (c) => c.notNull())
          .addColumn('created_at', big, (c) => c.notNull())
          .addColumn('approved_by', 'text')
          .addColumn('approved_at', big)
          .addColumn('approval_reference', 'text')
          .addColumn('current_group', 'integer', (c) => c.notNull())
          .addColumn('acknowledged_failures', 'integer', (c) => c.notNull().defaultTo(0))
          .addColumn('started_at', big)
          .addColumn('finished_at', big)
          .addColumn('updated_at', big, (c) => c.notNull())
          .execute();
        await db.schema.createIndex('campaigns_status').on('campaigns').columns(['status', 'created_at']).execute();
        await db.schema.createTable('campaign_events')
          .addColumn('id', serial, (c) => c.primaryKey())
          .addColumn('campaign_id', 'text', (c) => c.notNull())
          .addColumn('at', big, (c) => c.notNull())
          .addColumn('by', 'text', (c) => c.notNull())
          .addColumn('from_state', 'text', (c) => c.notNull())
          .addColumn('to_state', 'text', (c) => c.notNull())
          .addColumn('reason', 'text')
          .execute();
        await db.schema.createIndex('campaign_events_campaign').on('campaign_events').columns(['campaign_id', 'id']).execute();
        await db.schema.createTable('campaign_vehicle_states')
          .addColumn('campaign_id', 'text', (c) => c.notNull())
          .addColumn('vin', 'text', (c) => c.notNull())
          .addColumn('group_idx', 'integer', (c) => c.notNull())
          .addColumn('state', 'text', (c) => c.notNull())
          .addColumn('reason', 'text')
          .addColumn('updated_at', big, (c) => c.notNull())
          .addPrimaryKeyConstraint('campaign_vehicle_states_pk', ['campaign_id', 'vin'])
          .execute();
        await db.schema.createIndex('campaign_vehicle_states_progress').on('campaign_vehicle_states').columns(['campaign_id', 'group_idx', 'state']).execute();
        await db.schema.createIndex('campaign_vehicle_states_state').on('campaign_vehicle_states').columns(['campaign_id', 'state']).execute();
        // Progress counters, maintained with every state change (a progress read never scans the
        // vehicles); sharded by VIN so concurrent check-ins rarely wait for the same row.
        await db.schema.createTable('campaign_progress')
          .addColumn('campaign_id', 'text', (c) => c.notNull())
          .addColumn('group_idx', 'integer', (c) => c.notNull())
          .addColumn('state', 'text', (c) => c.notNull())
          .addColumn('shard', 'integer', (c) => c.notNull())
          .addColumn('n', big, (c) => c.notNull())
          .addPrimaryKeyConstraint('campaign_progress_pk', ['campaign_id', 'group_idx', 'state', 'shard'])
          .execute();
        await db.schema.createTable('campaign_failure_reasons')
          .addColumn('campaign_id', 'text', (c) => c.notNull())
          .addColumn('reason', 'text', (c) => c.notNull())
          .addColumn('shard', 'integer', (c) => c.notNull())
          .addColumn('n', big, (c) => c.notNull())
          .addPrimaryKeyConstraint('campaign_failure_reasons_pk', ['campaign_id', 'reason', 'shard'])
          .execute();
      },
    },
    '0008_checkin_cas': {
      // PostgreSQL only: the write of a steady-state check-in (services/checkin-fast.ts) in one
      // round trip, all or nothing: the request's nonce (a replay changes nothing and returns 0),
      // every reported ECU's new counter provided its stored counter and key are still those the
      // manifest was verified against (Uptane 2.1 §5.4.2.1: counters only grow), and the
      // vehicle's last check-in. Anything changed meanwhile raises RF001: the caller then runs
      // the locked check-in instead.
      async up(db: Kysely<unknown>): Promise<void> {
        if (dialect !== 'postgres') return;
        await sql`
          create function reflash_checkin_cas(
            p_vin text, p_primary text, p_key_id text, p_nonce text, p_nonce_expires bigint, p_now bigint,
            p_serials text[], p_key_ids text[], p_old bigint[], p_new bigint[]
          ) returns integer language plpgsql as $fn$
          declare
            n integer;
          begin
            insert into request_nonces (key_id, nonce, expires_at) values (p_key_id, p_nonce, p_nonce_expires)
              on conflict (key_id, nonce) do nothing;
            get diagnostics n = row_count;
            if n = 0 then
              return 0;
            end if;
            update ecus e set last_counter = u.new_counter
              from unnest(p_serials, p_key_ids, p_old, p_new) as u(serial, key_id, old_counter, new_counter)
              where e.vin = p_vin and e.serial = u.serial and e.key_id = u.key_id
                and e.last_counter is not distinct from u.old_counter and u.new_counter > coalesce(u.old_counter, -1);
            get diagnostics n = row_count;
            if n <> cardinality(p_serials) then
              raise exception 'ECU counters or keys changed during the check-in' using errcode = 'RF001';
            end if;
            update vehicles set last_seen_at = p_now, manifest_count = manifest_count + 1
              where vin = p_vin and primary_ecu_serial = p_primary;
            get diagnostics n = row_count;
            if n <> 1 then
              raise exception 'the vehicle changed during the check-in' using errcode = 'RF001';
            end if;
            return 1;
          end
          $fn$`.execute(db);
      },
    },
  };
}

export function migrationProvider(dialect: Dialect): MigrationProvider {
  return { getMigrations: () => Promise.resolve(migrations(dialect)) };
}
