/**
 * A small client of the platform's REST API for the CLI. It signs in with IIP_TOKEN, or IIP_USERNAME
 * (default admin) and IIP_PASSWORD, and turns API errors into messages that carry their IIP_ERR_* code.
 */
export interface ApiConfig {
  readonly url: string;
  readonly token?: string;
  readonly username: string;
  readonly password?: string;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(`${code}: ${message}`);
  }
}

export class ApiClient {
  private token: string | undefined;
  constructor(private readonly cfg: ApiConfig) {
    this.token = cfg.token;
  }

  static fromEnv(url?: string): ApiClient {
    return new ApiClient({
      url: (url ?? process.env.IIP_URL ?? 'http://localhost:8080').replace(/\/$/, ''),
      token: process.env.IIP_TOKEN,
      username: process.env.IIP_USERNAME ?? 'admin',
      password: process.env.IIP_PASSWORD ?? process.env.IIP_ADMIN_PASSWORD,
    });
  }

  get url(): string {
    return this.cfg.url;
  }

  private async signIn(): Promise<string> {
    if (this.token) return this.token;
    if (!this.cfg.password) {
      throw new ApiError(401, 'IIP_ERR_AUTH_REQUIRED', 'set IIP_PASSWORD (or IIP_TOKEN) to use the API / 请设置 IIP_PASSWORD 或 IIP_TOKEN');
    }
    const r = await this.raw('POST', '/api/v1/auth/login', { username: this.cfg.username, password: this.cfg.password }, false);
    this.token = (r as { token: string }).token;
    return this.token;
  }

  async call<T>(method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<T> {
    return (await this.raw(method, path, body, true, contentType)) as T;
  }

  private async raw(method: string, path: string, body: unknown, auth: boolean, contentType = 'application/json'): Promise<unknown> {
    const headers: Record<string, string> = {};
    if (auth) headers.authorization = `Bearer ${await this.signIn()}`;
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
    const json = text ? (JSON.parse(text) as unknown) : undefined;
    if (!res.ok) {
      const err = (json ?? {}) as { code?: string; message?: string };
      throw new ApiError(res.status, err.code ?? `HTTP_${res.status}`, err.message ?? res.statusText);
    }
    return json;
  }
}
