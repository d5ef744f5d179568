/**
 * `npm run bench -- authz` (issue 12): decisions of the policy decision point over 10,000 grants on a 5-level
 * ISA-95 asset tree of 10,000 nodes. Each decision is timed alone (process.hrtime.bigint before and after) and
 * includes what a request does: find the user's compiled subject and the tenant's tree in their caches, then
 * decide. Baseline, timed the same way: one Map lookup of a precomputed (user, asset) → permission set — the
 * fastest possible "is it allowed" with every answer computed in advance.
 */
import { Mulberry32, type TenantId, type UserId } from '@iip/core';
import { ALL_PERMISSIONS, AssetTree, type AccessSubject, BUILT_IN_ROLES, compileSubject, type Permission } from '@iip/security';
import type { Asset, CustomRole, Grant } from '@iip/storage';

const TENANT = 't1' as TenantId;
const DECISIONS = 200_000;

function percentile(sorted: Float64Array, q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
}

function time(n: number, fn: (i: number) => boolean): { p50: number; p99: number; allowed: number } {
  const out = new Float64Array(n);
  let allowed = 0;
  for (let i = 0; i < n; i++) {
    const t0 = process.hrtime.bigint();
    const ok = fn(i);
    const t1 = process.hrtime.bigint();
    out[i] = Number(t1 - t0) / 1000;
    if (ok) allowed++;
  }
  out.sort();
  return { p50: percentile(out, 0.5), p99: percentile(out, 0.99), allowed };
}

export async function main(): Promise<void> {
  const prng = new Mulberry32(12);
  const rnd = (): number => prng.next();
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)] as T;
  // 1 enterprise › 10 sites › 100 areas › 1,000 lines › 8,889 cells = 10,000 assets.
  const assets: Asset[] = [{ tenant: TENANT, id: 'e', parent: null, level: 'enterprise', name: 'e', nameZh: null, createdAt: 0 }];
  const levels = [
    { level: 'site', count: 10 },
    { level: 'area', count: 100 },
    { level: 'line', count: 1_000 },
    { level: 'cell', count: 8_889 },
  ] as const;
  let above = ['e'];
  for (const { level, count } of levels) {
    const ids: string[] = [];
    for (let i = 0; i < count; i++) {
      const id = `${level}-${i}`;
      assets.push({ tenant: TENANT, id, parent: above[i % above.length] as string, level, name: id, nameZh: null, createdAt: 0 });
      ids.push(id);
    }
    above = ids;
  }
  const assetIds = assets.map((a) => a.id);
  const roles: CustomRole[] = Array.from({ length: 20 }, (_, i) => ({
    tenant: TENANT,
    id: `custom-${i}`,
    name: `custom ${i}`,
    permissions: ALL_PERMISSIONS.filter(() => rnd() < 0.3),
    createdAt: 0,
  }));
  const roleIds = [...BUILT_IN_ROLES.map((r) => r.id).filter((r) => r !== 'platform-admin'), ...roles.map((r) => r.id)];
  // 1,000 users × 10 grants = 10,000 grants; one in twenty on the whole tenant, the rest on random assets.
  const users = Array.from({ length: 1_000 }, (_, i) => `user-${i}` as UserId);
  const grants: Grant[] = [];
  for (const u of users) {
    for (let k = 0; k < 10; k++) {
      grants.push({ tenant: TENANT, id: `${u}-${k}`, userId: u, role: pick(roleIds), asset: rnd() < 0.05 ? null : pick(assetIds), createdAt: 0 });
    }
  }
  console.log(`authz: ${assets.length} assets (5 levels), ${grants.length} grants, ${users.length} users, ${roles.length} custom roles`);

  const byUser = new Map<UserId, Grant[]>();
  for (const g of grants) byUser.set(g.userId, [...(byUser.get(g.userId) ?? []), g]);
  const t0 = performance.now();
  const subjects = new Map<string, AccessSubject>(users.map((u) => [u, compileSubject({ id: u, tenant: TENANT }, byUser.get(u) ?? [], roles)]));
  const trees = new Map<string, AssetTree>([[TENANT, new AssetTree(assets)]]);
  console.log(`authz: compiled ${users.length} subjects and the tree in ${(performance.now() - t0).toFixed(1)} ms`);

  const queries = Array.from({ length: DECISIONS }, () => ({ user: pick(users), perm: pick(ALL_PERMISSIONS), asset: pick(assetIds) }));

  // Baseline: every answer precomputed into one Map keyed by user and asset.
  const answers = new Map<string, ReadonlySet<Permission>>();
  for (const q of queries) {
    const key = `${q.user}\u0000${q.asset}`;
    if (answers.has(key)) continue;
    const s = subjects.get(q.user) as AccessSubject;
    answers.set(key, new Set(ALL_PERMISSIONS.filter((p) => s.allows(p, { tenant: TENANT, asset: q.asset }, trees.get(TENANT)))));
  }
  const keys = queries.map((q) => `${q.user}\u0000${q.asset}`);

  // Warm both paths, then measure each twice, alternating, and keep the better run of each.
  const decide = (i: number): boolean => {
    const q = queries[i] as (typeof queries)[number];
    const s = subjects.get(q.user) as AccessSubject;
    return s.allows(q.perm, { tenant: TENANT, asset: q.asset }, trees.get(TENANT));
  };
  const lookup = (i: number): boolean => (answers.get(keys[i] as string) as ReadonlySet<Permission>).has((queries[i] as (typeof queries)[number]).perm);
  time(20_000, decide);
  time(20_000, lookup);
  const runs = [time(DECISIONS, lookup), time(DECISIONS, decide), time(DECISIONS, lookup), time(DECISIONS, decide)];
  const base = runs[0]!.p99 <= runs[2]!.p99 ? runs[0]! : runs[2]!;
  const pdp = runs[1]!.p99 <= runs[3]!.p99 ? runs[1]! : runs[3]!;
  if (pdp.allowed !== base.allowed) throw new Error(`the PDP allowed ${pdp.allowed} of ${DECISIONS}, the precomputed answers ${base.allowed}`);
  console.log(`authz: ${DECISIONS} decisions, ${pdp.allowed} allowed; PDP p50 ${pdp.p50.toFixed(2)} µs, baseline p50 ${base.p50.toFixed(2)} µs`);
  console.log(`authz: p99 ${pdp.p99.toFixed(2)} µs per decision, baseline ${base.p99.toFixed(2)} µs (map lookup), ratio ${(pdp.p99 / base.p99).toFixed(2)}`);
}
