/**
 * A small client of the platform's REST API for the CLI. It signs in with IIP_TOKEN, or IIP_USERNAME
 * (default admin) and IIP_PASSWORD, and turns API errors into messages that carry their IIP_ERR_* code.
 * A platform administrator acts on another tenant by naming it (--tenant / IIP_TENANT): every request then
 * carries the X-IIP-Tenant header, which the server refuses for anyone else.
 */
export interface ApiConfig {
  readonly url: string;
  readonly token?: string;
  readonly username: string;
  readonly password?: string;
  /** The current code of the authenticator app, for a user with a second factor (IIP_TOTP). */
  readonly totp?: string;
  /** The tenant to act on (X-IIP-Tenant); absent: the signed-in user's own. */
  readonly tenant?: string;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: Readonly<Record<string, unknown>> = {},
  ) {
    super(`${code}: ${message}`);
  }
}

export class ApiClient {
  private token: string | undefined;
  constructor(private readonly cfg: ApiConfig) {
    this.token = cfg.token;
  }

  /** `url` and `tenant` from the command line win over IIP_URL and IIP_TENANT. */
  static fromEnv(url?: string, tenant?: string): ApiClient {
    const acting = tenant ?? process.env.IIP_TENANT;
    return new ApiClient({
      url: (url ?? process.env.IIP_URL ?? 'http://localhost:8080').replace(/\/$/, ''),
      token: process.env.IIP_TOKEN,
      username: process.env.IIP_USERNAME ?? 'admin',
      password: process.env.IIP_PASSWORD ?? process.env.IIP_ADMIN_PASSWORD,
      ...(process.env.IIP_TOTP ? { totp: process.env.IIP_TOTP } : {}),
      ...(acting ? { tenant: acting } : {}),
    });
  }

  get url(): string {
    return this.cfg.url;
  }

  /** The tenant named with --tenant / IIP_TENANT, if any. */
  get tenant(): string | undefined {
    return this.cfg.tenant;
  }

  private async signIn(): Promise<string> {
    if (this.token) return this.token;
    if (!this.cfg.password) {
      throw new ApiError(401, 'IIP_ERR_AUTH_REQUIRED', 'set IIP_PASSWORD (or IIP_TOKEN) to use the API / 请设置 IIP_PASSWORD 或 IIP_TOKEN');
    }
    let r: unknown;
    try {
      r = await this.json('POST', '/api/v1/auth/login', { username: this.cfg.username, password: this.cfg.password, ...(this.cfg.totp ? { totp: this.cfg.totp } : {}) }, false);
    } catch (e) {
      if (e instanceof ApiError && e.code === 'IIP_ERR_AUTH_TOTP_REQUIRED') {
        throw new ApiError(401, e.code, 'this user signs in with a second factor: set IIP_TOTP to the current code, or use an API token in IIP_TOKEN / 该用户启用了双因素认证：请设置 IIP_TOTP 为当前验证码，或在 IIP_TOKEN 中使用 API 令牌');
      }
      throw e;
    }
    this.token = (r as { token: string }).token;
    return this.token;
  }

  async call<T>(method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<T> {
    return (await this.json(method, path, body, true, contentType)) as T;
  }

  /** A request whose answer is not JSON (a CSV export): the body as text. */
  async text(method: string, path: string): Promise<string> {
    return (await this.send(method, path, undefined, true)).text;
  }

  private async json(method: string, path: string, body: unknown, auth: boolean, contentType = 'application/json'): Promise<unknown> {
    const { text } = await this.send(method, path, body, auth, contentType);
    return text ? (JSON.parse(text) as unknown) : undefined;
  }

  private async send(method: string, path: string, body: unknown, auth: boolean, contentType = 'application/json'): Promise<{ text: string }> {
    const headers: Record<string, string> = {};
    if (auth) {
      headers.authorization = `Bearer ${await this.signIn()}`;
      if (this.cfg.tenant) headers['x-iip-tenant'] = this.cfg.tenant;
    }
    let payload: string | undefined;
    if (body !== undefined) {
      headers['content-type'] = contentType;
      payload = typeof body === 'string' ? body : JSON.stringify(body);
    }
    let res: Response;
    try {
      res = await fetch(this.cfg.url + path, { method, headers, body: payload });
    } catch (e) {
      throw new ApiError(0, 'IIP_ERR_CLI_UNREACHABLE', `cannot reach ${this.cfg.url} (${(e as Error).cause ?? (e as Error).message}); is the platform running? set IIP_URL or --url`);
    }
    const text = await res.text();
    if (!res.ok) {
      let err: { code?: string; message?: string; details?: Record<string, unknown> } = {};
      try {
        err = (text ? JSON.parse(text) : {}) as typeof err;
      } catch {
        // Not the API's {code, message, details} (a proxy's page, say): the status line says what there is.
      }
      throw new ApiError(res.status, err.code ?? `HTTP_${res.status}`, err.message ?? (res.statusText || text.slice(0, 200)), err.details ?? {});
    }
    return { text };
  }
}
