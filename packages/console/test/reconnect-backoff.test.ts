import assert from 'node:assert/strict';
import { test } from 'node:test';
import { backoffCeiling, backoffDelay, DEFAULT_BACKOFF } from '../src/reconnect-backoff.ts';

test('the ceiling doubles from the initial delay up to the cap', () => {
  const ceilings = [0, 1, 2, 3, 4, 5, 6].map((n) => backoffCeiling(n));
  assert.deepEqual(ceilings, [1000, 2000, 4000, 8000, 16000, 30000, 30000]);
});

test('full jitter: the delay lies between the floor and the ceiling', () => {
  assert.equal(backoffDelay(3, DEFAULT_BACKOFF, () => 1), 8000);
  assert.equal(backoffDelay(3, DEFAULT_BACKOFF, () => 0.5), 4000);
  assert.equal(backoffDelay(3, DEFAULT_BACKOFF, () => 0), DEFAULT_BACKOFF.minMs);
  for (let n = 0; n < 50; n++) {
    const d = backoffDelay(n);
    assert.ok(d >= DEFAULT_BACKOFF.minMs && d <= backoffCeiling(n), `attempt ${n}: ${d}`);
  }
});

test('a very long outage neither overflows nor exceeds the cap', () => {
  assert.equal(backoffDelay(10_000, DEFAULT_BACKOFF, () => 1), DEFAULT_BACKOFF.maxMs);
  assert.equal(backoffDelay(Number.MAX_SAFE_INTEGER, DEFAULT_BACKOFF, () => 1), DEFAULT_BACKOFF.maxMs);
});

test('odd inputs are clamped: negative attempts and out-of-range random draws', () => {
  assert.equal(backoffDelay(-5, DEFAULT_BACKOFF, () => 1), 1000);
  assert.equal(backoffDelay(0, DEFAULT_BACKOFF, () => 7), 1000);
  assert.equal(backoffDelay(0, DEFAULT_BACKOFF, () => -1), DEFAULT_BACKOFF.minMs);
});

test('a custom policy is honoured', () => {
  const p = { initialMs: 100, maxMs: 500, factor: 3, minMs: 10 };
  assert.deepEqual([0, 1, 2, 3].map((n) => backoffDelay(n, p, () => 1)), [100, 300, 500, 500]);
});
