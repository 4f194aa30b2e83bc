/**
 * @reflash/vehicle: the in-vehicle side of Reflash. Import leaf modules where possible
 * (`@reflash/vehicle/ecu/attestation` for the server's verifyAttestation, which is pure).
 */
export * from './config.js';
export * from './errors.js';
export * from './digest.js';
export * from './link.js';
export * from './ecu/attestation.js';
export * from './ecu/measured-boot.js';
export * from './ecu/bank-record.js';
export * from './ecu/provision.js';
export * from './ecu/ecu.js';
export * from './ecu/keys.js';
export * from './primary/ports.js';
export * from './primary/table.js';
export * from './primary/campaign.js';
export * from './primary/preconditions.js';
export * from './primary/download.js';
export * from './primary/record.js';
export * from './primary/machine.js';
export * from './primary/primary.js';
export * from './net/http-backend.js';
export * from './net/bundle-backend.js';
export * from './primary/receipts.js';
