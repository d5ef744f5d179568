// Issue 11 (one of its defects): the history API returned 10,000 points and said nothing when the range held
// more. It now says `truncated` and gives `nextFrom`; following the pages returns every point once, in order.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type TestPlatform, startTestPlatform } from './fixture.js';

let tp: TestPlatform;
let secret: string;
before(async () => {
  tp = await startTestPlatform();
  secret = await tp.createDevice('pages-1');
});
after(async () => {
  await tp?.close();
});

type Page = { points: Array<{ ts: number; value: number }>; truncated: boolean; nextFrom?: number };

test('history pages: truncated and nextFrom when the range holds more than the limit; the pages cover every point once', async () => {
  const t0 = Date.now() - 60_000;
  const batch = Array.from({ length: 25 }, (_, i) => ({ ts: t0 + i * 100, values: { count: i } }));
  const basic = { authorization: `Basic ${Buffer.from(`default/pages-1:${secret}`).toString('base64')}`, 'content-type': 'application/json' };
  const ingest = await tp.anon<{ accepted: number }>('POST', '/api/v1/ingest', JSON.stringify(batch), basic);
  assert.equal(ingest.status, 202, JSON.stringify(ingest.body));
  assert.equal(ingest.body.accepted, 25);

  const url = (from: number) => `/api/v1/devices/pages-1/properties/count/history?from=${from}&to=${t0 + 10_000}&limit=10`;
  const first = await tp.api<Page>('GET', url(t0));
  assert.equal(first.status, 200);
  assert.equal(first.body.points.length, 10);
  assert.equal(first.body.truncated, true);
  assert.equal(first.body.nextFrom, t0 + 1000, 'the next page starts at the first point not returned');

  const all: number[] = [];
  let from = t0;
  for (let pages = 0; pages < 10; pages++) {
    const r = await tp.api<Page>('GET', url(from));
    all.push(...r.body.points.map((p) => p.value));
    if (!r.body.truncated) {
      assert.equal(r.body.nextFrom, undefined);
      break;
    }
    from = r.body.nextFrom as number;
  }
  assert.deepEqual(all, Array.from({ length: 25 }, (_, i) => i));

  const whole = await tp.api<Page>('GET', `/api/v1/devices/pages-1/properties/count/history?from=${t0}&to=${t0 + 10_000}&limit=25`);
  assert.equal(whole.body.points.length, 25);
  assert.equal(whole.body.truncated, false, 'exactly the limit is not truncated');
});
