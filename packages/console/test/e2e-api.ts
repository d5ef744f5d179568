/**
 * The REST calls the console's e2e tests make beside the browser, to set the platform up and to check what a page
 * changed: JSON in and out of /api/v1, a bearer token and the X-IIP-Tenant header.
 */

export interface CallOptions {
  readonly body?: unknown;
  /** Sent as X-IIP-Tenant (a platform administrator acting on another tenant). */
  readonly tenant?: string;
  /** Instead of the default token; '' sends no authorization at all (signing in). */
  readonly bearer?: string;
}

export type Call = <T>(method: string, path: string, opts?: CallOptions) => Promise<{ status: number; body: T }>;

/**
 * A caller for the platform at `baseUrl()` signed in with `token()`. Both are read at each call, since a test file
 * starts its platform and signs in only in its `before` hook.
 */
export function apiCaller(baseUrl: () => string, token: () => string): Call {
  return async <T>(method: string, path: string, opts: CallOptions = {}) => {
    const headers: Record<string, string> = {};
    const bearer = opts.bearer ?? token();
    if (bearer) headers.authorization = `Bearer ${bearer}`;
    if (opts.tenant) headers['x-iip-tenant'] = opts.tenant;
    if (opts.body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(`${baseUrl()}/api/v1${path}`, { method, headers, body: opts.body === undefined ? undefined : JSON.stringify(opts.body) });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T };
  };
}
