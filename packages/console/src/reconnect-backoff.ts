/**
 * Reconnect delays for the live-data WebSocket: exponential with "full jitter", capped. Jitter spreads the
 * reconnects of many open consoles after a platform restart, so they do not all hit it in the same
 * millisecond. Pure: the random source is a parameter so tests are deterministic.
 */

export interface BackoffPolicy {
  /** Delay ceiling of the first retry. */
  readonly initialMs: number;
  /** No retry waits longer than this. */
  readonly maxMs: number;
  readonly factor: number;
  /** Lower bound, so even an unlucky jitter draw does not hammer the server. */
  readonly minMs: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { initialMs: 1000, maxMs: 30_000, factor: 2, minMs: 250 };

/** Delay before retry number `attempt` (0 = first retry after a drop). */
export function backoffDelay(attempt: number, policy: BackoffPolicy = DEFAULT_BACKOFF, random: () => number = Math.random): number {
  const n = Math.max(0, Math.floor(attempt));
  // Clamp the exponent, so a long outage cannot overflow to Infinity.
  const ceiling = Math.min(policy.maxMs, policy.initialMs * policy.factor ** Math.min(n, 30));
  const r = Math.min(Math.max(random(), 0), 1);
  return Math.round(Math.max(policy.minMs, Math.min(ceiling, ceiling * r)));
}

/** The largest delay `backoffDelay` can return for this attempt (shown to the user as "retrying in ≤ n s"). */
export function backoffCeiling(attempt: number, policy: BackoffPolicy = DEFAULT_BACKOFF): number {
  const n = Math.max(0, Math.floor(attempt));
  return Math.max(policy.minMs, Math.min(policy.maxMs, policy.initialMs * policy.factor ** Math.min(n, 30)));
}
