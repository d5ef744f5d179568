/**
 * Where a mirror reads the primary's transaction log from: straight from a HandleStore (same process, or
 * behind the primary's `GET /api/replication/changes` route), or over HTTP from a remote primary.
 */
import type { HandleStore } from '@iip/storage';
import { HandleError } from '../model/handle-error.js';
import { ResponseCode } from '../model/response-codes.js';
import { type ReplicationBatch, type ReplicationBatchJson, batchFromJson, batchToJson } from './change-json.js';

export interface TransactionLogSource {
  /** Changes with seq > `since`, oldest first, at most `limit`. */
  changesSince(since: number, limit: number): Promise<ReplicationBatch>;
}

/** The primary side. `changes` is the JSON page the replication route sends as its body. */
export function transactionLogSource(store: HandleStore): TransactionLogSource & {
  changes(since: number, limit: number): Promise<ReplicationBatchJson>;
  compact(upTo?: number): ReturnType<HandleStore['compactLog']>;
} {
  // lastSeq first: a change committed between the two reads is then in the page but not past lastSeq,
  // never the other way round (a mirror would take itself to be further than the page it applied).
  const page = async (since: number, limit: number): Promise<ReplicationBatch> => {
    const lastSeq = await store.lastSeq();
    const changes = await store.changesSince(since, limit);
    return { changes, lastSeq: Math.max(lastSeq, changes.at(-1)?.seq ?? 0) };
  };
  return {
    changesSince: (since, limit) => page(since, limit),
    changes: async (since, limit) => batchToJson(await page(since, limit)),
    compact: (upTo) => store.compactLog(upTo),
  };
}

export interface HttpTransactionLogSourceOptions {
  /** The primary's feed, e.g. `http://primary:8080/api/replication/changes`. */
  readonly url: string;
  /** The Authorization header value (`Basic …` or `Bearer …`) of an admin allowed to read the feed. */
  readonly auth?: string;
  /** Per request (default 10 s): a hung primary must not stall the mirror forever. */
  readonly timeoutMs?: number;
}

/** The mirror side over HTTP (node's fetch). Failures are HandleError UNREACHABLE/AUTH so the mirror can report them. */
export function httpTransactionLogSource(opts: HttpTransactionLogSourceOptions): TransactionLogSource {
  return {
    async changesSince(since, limit) {
      const url = new URL(opts.url);
      url.searchParams.set('since', String(since));
      url.searchParams.set('limit', String(limit));
      let res: Response;
      try {
        res = await fetch(url, { headers: opts.auth ? { authorization: opts.auth } : {}, signal: AbortSignal.timeout(opts.timeoutMs ?? 10_000) });
      } catch (e) {
        throw new HandleError(ResponseCode.ERROR, `Replication source ${opts.url} is unreachable: ${(e as Error).message}`, { url: opts.url }, 'IIP_ERR_HANDLE_UNREACHABLE');
      }
      const body: unknown = await res.json().catch(() => undefined);
      if (!res.ok) {
        const code = res.status === 401 ? ResponseCode.AUTHENTICATION_FAILED : res.status === 403 ? ResponseCode.INSUFFICIENT_PERMISSIONS : ResponseCode.ERROR;
        const message = (body as { message?: string } | undefined)?.message ?? res.statusText;
        throw new HandleError(code, `Replication source ${opts.url} answered ${res.status}: ${message}`, { url: opts.url, status: res.status });
      }
      return batchFromJson(body);
    },
  };
}
