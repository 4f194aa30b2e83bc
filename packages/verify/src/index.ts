export * from './errors.js';
export * from './config.js';
export * from './trusted-set.js';
export * from './delegation.js';
export * from './updater.js';
export * from './uptane.js';
export * from './manifest.js';
