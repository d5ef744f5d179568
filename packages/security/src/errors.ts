import { defineErrors } from '@iip/core';

export const SECURITY_ERRORS = defineErrors({
  IIP_ERR_AUTH_REQUIRED: {
    status: 401,
    meaning: 'The request carries no valid session or bearer token.',
    fix: 'Sign in (POST /api/v1/auth/login) and send `Authorization: Bearer <token>`.',
  },
  IIP_ERR_AUTH_LOGIN_FAILED: {
    status: 401,
    meaning: 'The username or password is wrong.',
    fix: 'Check the credentials; the first admin password is printed once at first start (or set IIP_ADMIN_PASSWORD).',
  },
  IIP_ERR_AUTH_TOKEN_EXPIRED: {
    status: 401,
    meaning: 'The bearer token has expired or was revoked.',
    fix: 'Sign in again to get a new token.',
  },
  IIP_ERR_AUTH_FORBIDDEN: {
    status: 403,
    meaning: "No grant of the signed-in user permits this operation here (details name the permission, the tenant and the asset).",
    fix: 'Ask a tenant administrator for a role holding that permission, on the whole tenant or on the asset concerned.',
  },
  IIP_ERR_AUTH_WEAK_PASSWORD: {
    status: 400,
    meaning: 'The password breaks the policy: shorter than 12 characters, a commonly used one, containing the user name, repetitive or a run of keys (details.rule says which).',
    fix: 'Choose a longer password of unrelated words (at least 12 characters); a password manager can make one.',
  },
  IIP_ERR_AUTH_LOCKED: {
    status: 423,
    meaning: 'The account is locked for a while after repeated failed sign-ins (details.lockedUntil).',
    fix: 'Wait until the lock ends, or ask an administrator to reset the password (which lifts it).',
  },
  IIP_ERR_AUTH_THROTTLED: {
    status: 429,
    meaning: 'Too many failed sign-ins came from this address lately.',
    fix: 'Wait details.retryAfterMs before trying again.',
  },
  IIP_ERR_AUTH_USER_DISABLED: {
    status: 403,
    meaning: 'The user is disabled by an administrator of its tenant.',
    fix: 'Ask an administrator of the tenant to enable the user.',
  },
  IIP_ERR_ACCESS_UNKNOWN_ROLE: {
    status: 400,
    meaning: 'A grant names a role that is neither built in nor a custom role of the tenant.',
    fix: 'Use a built-in role id (GET /api/v1/roles) or create the custom role first.',
  },
  IIP_ERR_ACCESS_UNKNOWN_PERMISSION: {
    status: 400,
    meaning: 'A custom role names a permission iip does not have, or one only the platform can hold (tenants:manage).',
    fix: 'Pick permissions from GET /api/v1/permissions; details name the one refused.',
  },
  IIP_ERR_ACCESS_RESERVED_ROLE: {
    status: 409,
    meaning: 'A custom role was given the id of a built-in role, or a built-in role was to be changed or deleted.',
    fix: 'Choose another id for the custom role; built-in roles cannot be changed.',
  },
  IIP_ERR_DEVICE_AUTH_FAILED: {
    status: 401,
    meaning: 'A device presented an unknown device id or a wrong secret.',
    fix: 'Use the device id as `{tenant}/{device}` (or `{device}` in the default tenant) and the secret issued at creation.',
  },
});
