import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HandleError, ResponseCode as RC, normalizeHandle, validateValues } from '@iip/identifiers';
import fc from 'fast-check';
import { ROOT, node, text } from './service-fixture.js';

test('normalization folds ASCII A–Z only: idempotent, non-ASCII preserved, case variants resolve to one handle', async (t) => {
  fc.assert(
    fc.property(fc.string({ unit: 'grapheme', maxLength: 60 }), (s) => {
      const n = normalizeHandle(s);
      assert.equal(normalizeHandle(n), n);
      assert.equal(n.length, s.length);
      for (let i = 0; i < s.length; i++) {
        const c = s[i] as string;
        assert.equal(n[i], c >= 'A' && c <= 'Z' ? c.toLowerCase() : c);
      }
    }),
  );
  assert.equal(normalizeHandle('88.118/ÄÖ-Straße-İ'), '88.118/ÄÖ-straße-İ');
  const { service } = await node(t);
  // Each run gets its own prefix so a variant never meets a handle from an earlier run.
  let run = 0;
  await fc.assert(
    fc.asyncProperty(fc.string({ unit: 'grapheme', minLength: 1, maxLength: 20 }), fc.array(fc.boolean(), { minLength: 20, maxLength: 20 }), async (suffix, flips) => {
      run++;
      const handle = `88.118/p${run}-${suffix}`;
      try {
        await service.create(handle, [text(1, 'URL', 'u')], ROOT, { overwrite: true });
      } catch (e) {
        if (e instanceof HandleError && e.responseCode === RC.INVALID_HANDLE) return;
        throw e;
      }
      const found = async (h: string): Promise<boolean> => {
        try {
          await service.resolve(h, {}, null);
          return true;
        } catch (e) {
          if (e instanceof HandleError && e.responseCode === RC.HANDLE_NOT_FOUND) return false;
          throw e;
        }
      };
      const chars = [...suffix];
      const swap = (c: string) => (c === c.toUpperCase() ? c.toLowerCase() : c.toUpperCase());
      const asciiVariant = chars.map((c, i) => (/[A-Za-z]/.test(c) && flips[i % flips.length] ? swap(c) : c)).join('');
      assert.ok(await found(`88.118/P${run}-${asciiVariant}`), 'ASCII case never matters');
      const nonAsciiVariant = chars.map((c) => ((c.codePointAt(0) ?? 0) < 0x80 ? c : c.toUpperCase())).join('');
      if (nonAsciiVariant !== suffix) assert.ok(!(await found(`88.118/p${run}-${nonAsciiVariant}`)), 'non-ASCII case is significant');
    }),
    { numRuns: 200 },
  );
});

const anyValue = fc.record({
  index: fc.oneof(fc.integer({ min: -5, max: 5 }), fc.nat(), fc.double()),
  type: fc.oneof(fc.constant(''), fc.string({ maxLength: 10 })),
  ttl: fc.oneof(fc.integer({ min: -10, max: 10 }), fc.constant(2 ** 32), fc.double()),
  ttlType: fc.constantFrom('relative', 'absolute', 'weird'),
});

test('value validation accepts exactly the values the protocol can carry, and names the index of the first bad one', () => {
  fc.assert(
    fc.property(fc.array(anyValue, { maxLength: 5 }), (raw) => {
      const values = raw.map((r) => ({ ...text(1, 'T', 'd'), ...r }) as ReturnType<typeof text>);
      const u32 = (n: number) => Number.isInteger(n) && n >= 0 && n <= 0xffffffff;
      const indexes = values.map((v) => v.index);
      const ok = values.every((v) => u32(v.index) && v.index > 0 && v.type.length > 0 && u32(v.ttl) && (v.ttlType === 'relative' || v.ttlType === 'absolute')) && new Set(indexes).size === indexes.length;
      try {
        validateValues(values);
        assert.ok(ok, 'accepted only when valid');
      } catch (e) {
        assert.ok(!ok, 'refused only when invalid');
        assert.ok(e instanceof HandleError && e.responseCode === RC.INVALID_VALUE);
        assert.ok(indexes.includes(e.details.index as number), 'the error names a value index');
      }
    }),
  );
});
