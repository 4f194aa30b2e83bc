/**
 * The verify package's MetadataStore over a directory (unversioned `<role>.json` files, atomic
 * writes): one implementation, shared with the vehicle package.
 */
export { FsStore } from '@reflash/vehicle/io/fs-store';
