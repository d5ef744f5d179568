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
    meaning: "The signed-in user's role does not allow this operation.",
    fix: 'Ask an administrator for a role that allows it.',
  },
  IIP_ERR_AUTH_WEAK_PASSWORD: {
    status: 400,
    meaning: 'The password is shorter than 12 characters.',
    fix: 'Choose a password of at least 12 characters.',
  },
  IIP_ERR_DEVICE_AUTH_FAILED: {
    status: 401,
    meaning: 'A device presented an unknown device id or a wrong secret.',
    fix: 'Use the device id as `{tenant}/{device}` (or `{device}` in the default tenant) and the secret issued at creation.',
  },
});
