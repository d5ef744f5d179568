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
  IIP_ERR_AUTH_TOTP_REQUIRED: {
    status: 401,
    meaning: 'The password was right and the account has a second factor: the 6-digit code of its authenticator app (field `totp`) is needed too.',
    fix: 'Send the sign-in again with `totp` set to the current code of the authenticator app.',
  },
  IIP_ERR_AUTH_TOTP_INVALID: {
    status: 401,
    meaning: 'The second-factor code is wrong, too old, or was already used (each code is good once). A wrong code counts as a failed sign-in.',
    fix: "Wait for the app's next code and enter it; check that the device's clock is right (codes are valid for 30 s, one step either side).",
  },
  IIP_ERR_AUTH_TOTP_ENROLL_REQUIRED: {
    status: 403,
    meaning: 'The tenant requires a second factor for administrators and this user has none yet: the session may only set it up (POST /api/v1/auth/totp/setup, then /enable).',
    fix: 'Set up the second factor with an authenticator app (console: the page shown after sign-in), then continue.',
  },
  IIP_ERR_AUTH_TOTP_NOT_SET_UP: {
    status: 409,
    meaning: 'There is no second-factor secret being set up to confirm.',
    fix: 'Call POST /api/v1/auth/totp/setup first, add the secret to the app, then confirm with its code.',
  },
  IIP_ERR_AUTH_TOTP_REQUIRED_BY_TENANT: {
    status: 409,
    meaning: "The second factor cannot be turned off: the tenant's security policy requires it for this user's administrator role.",
    fix: 'Keep it on; an administrator may reset it (the user then sets it up again at the next sign-in).',
  },
  IIP_ERR_AUTH_SERVICE_ACCOUNT: {
    status: 400,
    meaning: 'A service account signs in with API tokens only: it has no password and no second factor.',
    fix: 'Create an API token for the service account (POST /api/v1/users/{id}/api-tokens).',
  },
  IIP_ERR_AUTH_TOKEN_SCOPE: {
    status: 400,
    meaning: "An API token's scopes name a permission its user does not hold on the whole tenant (details.permission); a token never carries more than its user.",
    fix: 'Grant the user (service account) a role with that permission first, or leave the scope out.',
  },
  IIP_ERR_AUTH_OIDC_CONFIG: {
    status: 500,
    meaning: 'The OpenID Connect settings cannot work: no client id, an issuer or redirect URL that is not a URL, or an issuer over plain http that is not on this machine.',
    fix: 'Set IIP_OIDC_ISSUER (https://…), IIP_OIDC_CLIENT_ID and, behind a proxy, IIP_OIDC_REDIRECT_URL (docs/reference/oidc-sign-in.md).',
  },
  IIP_ERR_AUTH_OIDC_DISABLED: {
    status: 404,
    meaning: 'Sign-in through an OpenID Connect provider is not configured on this platform.',
    fix: 'Sign in with a user name and password, or ask the operator to set IIP_OIDC_ISSUER and IIP_OIDC_CLIENT_ID.',
  },
  IIP_ERR_AUTH_OIDC_PROVIDER: {
    status: 502,
    meaning: 'The OpenID Connect provider could not be reached, or its discovery document is unusable.',
    fix: 'Check that IIP_OIDC_ISSUER is the issuer URL exactly (its /.well-known/openid-configuration must load from the platform host).',
  },
  IIP_ERR_AUTH_OIDC_STATE: {
    status: 400,
    meaning: 'The sign-in came back with a state that this platform did not start, already used, started in another browser, or that expired (10 min).',
    fix: 'Start the sign-in again from the console; finish it within 10 minutes in the same browser.',
  },
  IIP_ERR_AUTH_OIDC_DENIED: {
    status: 401,
    meaning: 'The OpenID Connect provider ended the sign-in with an error (details.error, e.g. access_denied when the user cancelled).',
    fix: 'Sign in again; if the provider refuses, ask its administrator (details.description says why).',
  },
  IIP_ERR_AUTH_OIDC_TOKEN: {
    status: 401,
    meaning: "The provider's answer failed validation: the code exchange was refused, or the ID token's signature, issuer, audience, nonce or expiry is wrong.",
    fix: 'Sign in again; if it persists, check the client id and secret, the clocks of both machines, and the platform log.',
  },
  IIP_ERR_AUTH_OIDC_CLAIMS: {
    status: 403,
    meaning: 'The identity from the provider lacks a usable tenant claim, or its roles claim is not a list of role ids (details.claim names it).',
    fix: "Have the provider's administrator add the claims (default iip_tenant and iip_roles; docs/reference/oidc-sign-in.md).",
  },
  IIP_ERR_AUTH_OIDC_TENANT: {
    status: 403,
    meaning: 'The tenant named by the identity\'s tenant claim does not exist on this platform.',
    fix: 'Create the tenant first, or correct the claim at the provider.',
  },
  IIP_ERR_AUTH_OIDC_USER_CONFLICT: {
    status: 409,
    meaning: 'A user of that name exists that this provider identity may not take over: a local (password) user, a user of another provider identity, or a user of another tenant.',
    fix: 'Rename or delete the existing user, or give the identity another preferred_username at the provider.',
  },
  IIP_ERR_AUTH_OIDC_CODE: {
    status: 401,
    meaning: 'The one-time sign-in code is unknown, already used, expired (60 s) or presented by another browser than the one that signed in.',
    fix: 'Start the sign-in again from the console.',
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
