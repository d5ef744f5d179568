/**
 * The evaluation endpoints of the platform (/api/v1/evaluation/...) for the console, with the same error
 * handling as the main API client (IIP_ERR_* codes, a 401 ends the session). Types mirror the server's
 * answers; the console imports no code from the engine.
 */
import { ApiError, NETWORK_ERROR } from './api-client';

export interface FrameworkSummary {
  id: string;
  nameZh: string;
  nameEn: string;
  indicators: number;
  groups: number;
}

export interface FrameworkIndicatorDoc {
  id: string;
  nameZh: string;
  nameEn: string;
  level: number;
  parent: string | null;
}

export interface WeightingGroupDoc {
  parent: string;
  id: string;
  ids: string[];
  matrix?: number[][];
  experts?: number[][][];
  [k: string]: unknown;
}

export interface FrameworkDoc {
  id: string;
  nameZh: string;
  nameEn: string;
  indicators: FrameworkIndicatorDoc[];
  groups: WeightingGroupDoc[];
  [k: string]: unknown;
}

export interface AhpAnswer {
  matrixId: string;
  ids: string[];
  weights: number[];
  lambdaMax: number;
  ci: number;
  cr: number;
  ri: number;
  accepted: boolean;
}

/** The part of an EvaluationResult the page shows itself; the report shows the rest. */
export interface RunAnswer {
  id: string;
  result: {
    years: number[];
    regional: Array<{ year: number; scores: Array<{ region: string; overall: number; rank: number }> }>;
    tiers: { names: string[]; assignments: Array<{ region: string; tier: number }> };
    ahp: AhpAnswer[];
  };
}

export interface RunRequest {
  framework?: string | FrameworkDoc;
  example?: boolean;
  data?: { csv: string; name: string };
  options: {
    normalisation: string;
    aggregation: string;
    missing: string;
    tiers: { method: string };
    runs: number;
    allowInconsistent: boolean;
  };
}

export class EvaluationApi {
  constructor(
    private readonly token: string,
    private readonly onUnauthorized: () => void,
    /** The tenant a platform administrator switched to (X-IIP-Tenant). */
    private readonly tenant?: string,
  ) {}

  private async request(method: string, path: string, body?: unknown, accept = 'application/json'): Promise<Response> {
    const headers: Record<string, string> = { accept, authorization: `Bearer ${this.token}` };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (this.tenant) headers['x-iip-tenant'] = this.tenant;
    let res: Response;
    try {
      res = await fetch(`/api/v1/evaluation${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    } catch (e) {
      throw new ApiError(NETWORK_ERROR, e instanceof Error ? e.message : String(e), 0);
    }
    if (!res.ok) {
      if (res.status === 401) this.onUnauthorized();
      const text = await res.text();
      let doc: { code?: unknown; message?: unknown } | undefined;
      try {
        doc = JSON.parse(text) as { code?: unknown; message?: unknown };
      } catch {
        doc = undefined;
      }
      if (doc && typeof doc.code === 'string') throw new ApiError(doc.code, String(doc.message ?? ''), res.status);
      throw new ApiError(`HTTP_${res.status}`, text.slice(0, 200) || res.statusText, res.status);
    }
    return res;
  }

  async frameworks(): Promise<FrameworkSummary[]> {
    return ((await (await this.request('GET', '/frameworks')).json()) as { items: FrameworkSummary[] }).items;
  }

  async framework(id: string): Promise<FrameworkDoc> {
    return (await (await this.request('GET', `/frameworks/${encodeURIComponent(id)}`)).json()) as FrameworkDoc;
  }

  async ahp(matrix: number[][], ids: string[], id: string): Promise<AhpAnswer> {
    return (await (await this.request('POST', '/ahp', { matrix, ids, id })).json()) as AhpAnswer;
  }

  async run(req: RunRequest): Promise<RunAnswer> {
    return (await (await this.request('POST', '/runs', req)).json()) as RunAnswer;
  }

  /** The report's HTML, fetched with the bearer header so the token never goes into a URL. */
  /** The run's report in both languages, opening in `initial` (the console's language). */
  async reportHtml(id: string, initial: 'zh' | 'en'): Promise<string> {
    return (await this.request('GET', `/runs/${encodeURIComponent(id)}/report?initial=${initial}`, undefined, 'text/html')).text();
  }
}
