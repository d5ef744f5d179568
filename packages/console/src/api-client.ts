/**
 * HTTP client for /api/v1. Adds the bearer token, turns error bodies into ApiError with the platform's
 * stable `code`, and reports a 401 once through `onUnauthorized` so the app can ask for sign-in again.
 */
import type {
  ApiErrorBody,
  AuditEntry,
  Device,
  DeviceServices,
  GatewayStatus,
  GatewaySummary,
  LatestValues,
  LoginResponse,
  PointValue,
  Product,
  ServiceResult,
  TrendBucket,
  User,
  WriteResult,
} from './api-types';
import type { TenantPolicy, TenantUsageReply } from './usage/usage-api';

export class ApiError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status: number,
    /** The refusal's `details` (which field, which position…), when the platform sent some. */
    readonly details?: unknown,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** The session must set up its second factor before anything else. */
export const ENROLL_REQUIRED = 'IIP_ERR_AUTH_TOTP_ENROLL_REQUIRED';

/** Code used when the platform cannot be reached at all (no HTTP status). */
export const NETWORK_ERROR = 'IIP_ERR_CONSOLE_NETWORK';

export interface ApiClientOptions {
  readonly token?: string;
  readonly onUnauthorized?: () => void;
  /** The tenant a platform administrator acts on (sent as X-IIP-Tenant); absent: the user's own. */
  readonly tenant?: string;
  /** A 403 IIP_ERR_AUTH_TOTP_ENROLL_REQUIRED: the tenant now requires a second factor this session has not set up. */
  readonly onEnrollRequired?: () => void;
}

/**
 * 401s that judge a credential typed just now (the current password asked again, a second-factor code), not the
 * session: the signed-in user stays signed in and the page shows the refusal.
 */
const CREDENTIAL_REFUSALS: ReadonlySet<string> = new Set(['IIP_ERR_AUTH_LOGIN_FAILED', 'IIP_ERR_AUTH_TOTP_REQUIRED', 'IIP_ERR_AUTH_TOTP_INVALID']);

function sessionEnded(status: number, doc: unknown): boolean {
  return status === 401 && !(isErrorBody(doc) && CREDENTIAL_REFUSALS.has(doc.code));
}

function isErrorBody(v: unknown): v is ApiErrorBody {
  return v !== null && typeof v === 'object' && typeof (v as ApiErrorBody).code === 'string';
}

export class ApiClient {
  constructor(private readonly opts: ApiClientOptions = {}) {}

  /** The tenant requests act on: the one switched to, or undefined for the user's own. */
  get tenant(): string | undefined {
    return this.opts.tenant;
  }

  private async send(method: string, path: string, body: unknown, accept: string): Promise<Response> {
    const headers: Record<string, string> = { accept };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (this.opts.token) headers.authorization = `Bearer ${this.opts.token}`;
    if (this.opts.tenant) headers['x-iip-tenant'] = this.opts.tenant;
    try {
      return await fetch(`/api/v1${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (e) {
      throw new ApiError(NETWORK_ERROR, e instanceof Error ? e.message : String(e), 0);
    }
  }

  private async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await this.send(method, path, body, 'application/json');
    const text = await res.text();
    let doc: unknown;
    try {
      doc = text ? JSON.parse(text) : undefined;
    } catch {
      doc = undefined;
    }
    if (!res.ok) {
      // The login call answers 401 for a wrong password; that is not an expired session.
      if (sessionEnded(res.status, doc) && this.opts.token) this.opts.onUnauthorized?.();
      if (res.status === 403 && isErrorBody(doc) && doc.code === ENROLL_REQUIRED) this.opts.onEnrollRequired?.();
      if (isErrorBody(doc)) throw new ApiError(doc.code, doc.message, res.status, doc.details);
      throw new ApiError(`HTTP_${res.status}`, text.slice(0, 200) || res.statusText, res.status);
    }
    return doc as T;
  }

  /** Any other /api/v1 call (the administration pages' calls live beside them, in admin/admin-api.ts). */
  call<T>(method: string, path: string, body?: unknown): Promise<T> {
    return this.request(method, path, body);
  }

  /** A file the platform sends (a CSV export), fetched with the bearer header so the token never goes into a URL. */
  async download(path: string): Promise<Blob> {
    const res = await this.send('GET', path, undefined, '*/*');
    if (res.ok) return res.blob();
    const text = await res.text();
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch {
      doc = undefined;
    }
    if (sessionEnded(res.status, doc) && this.opts.token) this.opts.onUnauthorized?.();
    if (isErrorBody(doc)) throw new ApiError(doc.code, doc.message, res.status);
    throw new ApiError(`HTTP_${res.status}`, text.slice(0, 200) || res.statusText, res.status);
  }

  /** `totp`: the authenticator app's code, on the second try when the first answered IIP_ERR_AUTH_TOTP_REQUIRED. */
  login(username: string, password: string, totp?: string): Promise<LoginResponse> {
    return this.request('POST', '/auth/login', { username, password, ...(totp !== undefined && { totp }) });
  }

  async logout(): Promise<void> {
    await this.request<unknown>('POST', '/auth/logout');
  }

  me(): Promise<User> {
    return this.request('GET', '/auth/me');
  }

  async products(): Promise<Product[]> {
    return (await this.request<{ items: Product[] }>('GET', '/products')).items;
  }

  devices(opts: { limit?: number; offset?: number; product?: string } = {}): Promise<{ items: Device[]; total: number }> {
    const q = new URLSearchParams({ limit: String(opts.limit ?? 500), offset: String(opts.offset ?? 0) });
    if (opts.product) q.set('product', opts.product);
    return this.request('GET', `/devices?${q}`);
  }

  async latest(device: string): Promise<LatestValues> {
    return (await this.request<{ values: LatestValues }>('GET', `/devices/${encodeURIComponent(device)}/latest`)).values ?? {};
  }

  async trend(device: string, property: string, from: number, to: number, buckets: number): Promise<TrendBucket[]> {
    const q = new URLSearchParams({ from: String(from), to: String(to), buckets: String(buckets) });
    const path = `/devices/${encodeURIComponent(device)}/properties/${encodeURIComponent(property)}/trend?${q}`;
    return (await this.request<{ buckets: TrendBucket[] }>('GET', path)).buckets;
  }

  async gateways(): Promise<GatewaySummary[]> {
    return (await this.request<{ items: GatewaySummary[] }>('GET', '/gateways')).items;
  }

  gateway(id: string): Promise<GatewayStatus> {
    return this.request('GET', `/gateways/${encodeURIComponent(id)}`);
  }

  /** Newest first. */
  async audit(device: string, limit: number): Promise<AuditEntry[]> {
    const q = new URLSearchParams({ device, limit: String(limit) });
    return (await this.request<{ items: AuditEntry[] }>('GET', `/audit?${q}`)).items;
  }

  deviceServices(device: string): Promise<DeviceServices> {
    return this.request('GET', `/devices/${encodeURIComponent(device)}/services`);
  }

  invokeService(device: string, service: string, inputs: Readonly<Record<string, PointValue>>): Promise<ServiceResult> {
    const path = `/devices/${encodeURIComponent(device)}/services/${encodeURIComponent(service)}`;
    return this.request('POST', path, { inputs });
  }

  writeProperty(device: string, property: string, value: PointValue): Promise<WriteResult> {
    const path = `/devices/${encodeURIComponent(device)}/properties/${encodeURIComponent(property)}/write`;
    return this.request('POST', path, { value });
  }

  tenantUsage(): Promise<TenantUsageReply> {
    return this.request('GET', '/tenant/usage');
  }

  setTenantPolicy(policy: TenantPolicy): Promise<TenantPolicy> {
    return this.request('PUT', '/tenant/policy', policy);
  }
}
