/**
 * The timing rules of Modbus polling, kept pure so they can be tested without clocks: when a device is
 * demoted and how slowly it is then polled, when its next poll is due, and how long to wait before the
 * next reconnect attempt (exponential backoff with jitter, so many gateways do not reconnect in lockstep).
 */
import type { DeviceLinkState } from '@iip/core';

/** Consecutive failed polls after which a device is demoted. */
export const DEMOTE_AFTER_FAILURES = 3;
/** A demoted device is polled at most every DEMOTED_FACTOR × its interval … */
export const DEMOTED_FACTOR = 10;
/** … but no slower than this (unless its own interval is already longer). */
export const DEMOTED_CAP_MS = 60_000;
export const RECONNECT_FIRST_MS = 500;
export const RECONNECT_CAP_MS = 30_000;

export function linkState(polls: number, consecutiveFailures: number): DeviceLinkState {
  if (consecutiveFailures >= DEMOTE_AFTER_FAILURES) return 'demoted';
  if (consecutiveFailures > 0) return 'failing';
  return polls > 0 ? 'ok' : 'unknown';
}

/** The interval a device is actually polled at, given its failure streak. */
export function effectiveIntervalMs(pollIntervalMs: number, consecutiveFailures: number): number {
  if (consecutiveFailures < DEMOTE_AFTER_FAILURES) return pollIntervalMs;
  return Math.max(pollIntervalMs, Math.min(pollIntervalMs * DEMOTED_FACTOR, DEMOTED_CAP_MS));
}

/**
 * The next due time after a poll that was due at `due` and finished at `finishedAt`. Healthy devices keep
 * their cadence (due + interval); a poll that overran skips the missed slots instead of bursting to catch
 * up. A demoted device waits its long interval from when its failed poll ended.
 */
export function nextDue(due: number, finishedAt: number, pollIntervalMs: number, consecutiveFailures: number): number {
  const interval = effectiveIntervalMs(pollIntervalMs, consecutiveFailures);
  if (consecutiveFailures >= DEMOTE_AFTER_FAILURES) return finishedAt + interval;
  if (finishedAt < due) return due + interval;
  return due + (Math.floor((finishedAt - due) / interval) + 1) * interval;
}

/** Delay before reconnect attempt `attempt` (0-based): 0.5 s doubling to a 30 s cap, ±20 % jitter. */
export function reconnectDelayMs(attempt: number, random: () => number = Math.random): number {
  const base = Math.min(RECONNECT_CAP_MS, RECONNECT_FIRST_MS * 2 ** Math.min(attempt, 16));
  return Math.min(RECONNECT_CAP_MS, Math.round(base * (0.8 + 0.4 * random())));
}
