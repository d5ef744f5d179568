/**
 * @iip/security — who may do what: user accounts with scrypt-hashed passwords, bearer tokens bound to a
 * tenant, device credentials (random secrets stored only as salted hashes), and the permission model: the
 * permission catalogue, built-in roles and the policy decision point (ADR 0009). Later: industrial-traffic
 * detection, classification and grading, backup/restore.
 */
export * from './errors.js';
export * from './passwords.js';
export * from './device-credentials.js';
export * from './users.js';
export * from './permissions.js';
export * from './policy.js';
export * from './password-policy.js';
export * from './oidc.js';
