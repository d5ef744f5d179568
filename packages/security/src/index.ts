/**
 * @iip/security — who may do what: user accounts with scrypt-hashed passwords, bearer tokens bound to a
 * tenant, and device credentials (random secrets stored only as salted hashes). Later: roles, audit log,
 * industrial-traffic detection, classification and grading, backup/restore.
 */
export * from './errors.js';
export * from './passwords.js';
export * from './device-credentials.js';
export * from './users.js';
