/**
 * The policy decision point against a small reference model: random asset trees, custom roles and grants
 * (fast-check), and for every user × permission × target the PDP's answer must equal the model's. The model
 * is the definition written as plainly as possible — a grant applies when it is in the target's tenant, its
 * role holds the permission, and it is on the whole tenant or on the target's asset or an ancestor of it —
 * with the two special rules (platform-admin reaches every tenant; tenant-scope permissions only tenant-wide).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { TenantId, UserId } from '@iip/core';
import type { Asset, CustomRole, Grant } from '@iip/storage';
import { ALL_PERMISSIONS, AssetTree, BUILT_IN_ROLES, compileSubject, type Permission, PERMISSIONS, PLATFORM_ADMIN } from '@iip/security';

const TENANTS = ['default', 't1', 't2'] as const;
const USERS = ['u0', 'u1', 'u2', 'u3'] as const;

interface World {
  assets: Asset[];
  roles: CustomRole[];
  grants: Grant[];
  users: Array<{ id: UserId; tenant: TenantId }>;
}

/** Parent chain by plain recursion over the list (no maps, no shortcuts). */
function ancestorsOrSelf(assets: readonly Asset[], tenant: string, id: string): string[] {
  const a = assets.find((x) => x.tenant === tenant && x.id === id);
  if (!a) return [];
  return [a.id, ...(a.parent === null ? [] : ancestorsOrSelf(assets, tenant, a.parent))];
}

function roleHolds(w: World, tenant: string, role: string, p: Permission): boolean {
  const builtIn = BUILT_IN_ROLES.find((r) => r.id === role);
  if (builtIn) return builtIn.permissions.includes(p);
  const custom = w.roles.find((r) => r.tenant === tenant && r.id === role);
  return custom ? custom.permissions.includes(p) : false;
}

function reference(w: World, user: { id: UserId; tenant: TenantId }, p: Permission, target: { tenant: string; asset: string | null }): boolean {
  const mine = w.grants.filter((g) => g.userId === user.id && g.tenant === user.tenant);
  if (mine.some((g) => g.role === PLATFORM_ADMIN && g.asset === null && g.tenant === 'default')) return true;
  if (target.tenant !== user.tenant) return false;
  return mine.some((g) => {
    if (!roleHolds(w, g.tenant, g.role, p)) return false;
    if (PERMISSIONS[p].scope === 'platform') return false; // only the platform administrator (handled above)
    if (g.asset === null) return true;
    if (PERMISSIONS[p].scope !== 'asset' || target.asset === null) return false;
    return ancestorsOrSelf(w.assets, target.tenant, target.asset).includes(g.asset);
  });
}

/** A random forest per tenant: asset i's parent is an earlier asset of the same tenant or none. */
const worldArb: fc.Arbitrary<World> = fc
  .record({
    parents: fc.array(fc.record({ tenant: fc.constantFrom(...TENANTS), parentPick: fc.option(fc.nat(), { nil: null }) }), { maxLength: 25 }),
    roles: fc.array(fc.record({ tenant: fc.constantFrom(...TENANTS), id: fc.constantFrom('r1', 'r2', 'r3'), permissions: fc.subarray([...ALL_PERMISSIONS, 'no:such' as Permission]) }), { maxLength: 5 }),
    users: fc.tuple(...USERS.map(() => fc.constantFrom(...TENANTS))),
    grants: fc.array(
      fc.record({
        user: fc.constantFrom(...USERS),
        tenantOverride: fc.option(fc.constantFrom(...TENANTS), { nil: null, freq: 4 }),
        role: fc.constantFrom(...BUILT_IN_ROLES.map((r) => r.id), 'r1', 'r2', 'r3', 'gone'),
        assetPick: fc.option(fc.nat(), { nil: null }),
      }),
      { maxLength: 12 },
    ),
  })
  .map(({ parents, roles, users, grants }) => {
    const assets: Asset[] = [];
    parents.forEach(({ tenant, parentPick }, i) => {
      const earlier = assets.filter((a) => a.tenant === tenant);
      const parent = parentPick === null || earlier.length === 0 ? null : (earlier[parentPick % earlier.length] as Asset).id;
      assets.push({ tenant: tenant as TenantId, id: `a${i}`, parent, level: 'site', name: `a${i}`, nameZh: null, createdAt: 0 });
    });
    const userList = USERS.map((id, i) => ({ id: id as UserId, tenant: users[i] as TenantId }));
    const seen = new Set<string>();
    const customRoles = roles.filter((r) => !seen.has(r.tenant + r.id) && seen.add(r.tenant + r.id)).map((r) => ({ ...r, tenant: r.tenant as TenantId, name: r.id, createdAt: 0 }));
    const grantList: Grant[] = grants.map((g, i) => {
      const user = userList.find((u) => u.id === g.user) as { id: UserId; tenant: TenantId };
      // Mostly the user's own tenant (as the store enforces); sometimes another, which the PDP must ignore.
      const tenant = (g.tenantOverride ?? user.tenant) as TenantId;
      const inTenant = assets.filter((a) => a.tenant === tenant);
      const asset = g.assetPick === null || inTenant.length === 0 ? null : (inTenant[g.assetPick % inTenant.length] as Asset).id;
      return { tenant, id: `g${i}`, userId: user.id, role: g.role, asset, createdAt: 0 };
    });
    return { assets, roles: customRoles, grants: grantList, users: userList };
  });

describe('policy decision point', () => {
  it('agrees with the reference model on random trees, roles and grants', () => {
    fc.assert(
      fc.property(worldArb, (w) => {
        const trees = new Map(TENANTS.map((t) => [t, new AssetTree(w.assets.filter((a) => a.tenant === t))]));
        for (const user of w.users) {
          const subject = compileSubject(user, w.grants, w.roles);
          for (const tenant of TENANTS) {
            const targets: Array<string | null> = [null, ...w.assets.filter((a) => a.tenant === tenant).map((a) => a.id), 'not-an-asset'];
            for (const asset of targets) {
              for (const p of ALL_PERMISSIONS) {
                const expected = reference(w, user, p, { tenant, asset });
                const got = subject.allows(p, { tenant, asset }, trees.get(tenant));
                if (got !== expected) {
                  assert.fail(`user ${user.id}@${user.tenant} ${p} on ${tenant}/${asset}: PDP ${got}, model ${expected}`);
                }
              }
            }
          }
        }
      }),
      { numRuns: 300 },
    );
  });

  it('denies by default and never crosses tenants without the platform role', () => {
    const user = { id: 'u' as UserId, tenant: 't1' as TenantId };
    const none = compileSubject(user, [], []);
    for (const p of ALL_PERMISSIONS) assert.equal(none.allows(p, { tenant: 't1' }), false, p);
    const admin = compileSubject(user, [{ tenant: 't1' as TenantId, id: 'g', userId: user.id, role: 'tenant-admin', asset: null, createdAt: 0 }], []);
    assert.equal(admin.allows('users:manage', { tenant: 't1' }), true);
    assert.equal(admin.allows('devices:read', { tenant: 't2' }), false);
    assert.equal(admin.allows('tenants:manage', { tenant: 't1' }), false);
    // platform-admin granted inside a tenant other than the platform's own makes nobody a platform administrator
    const fake = compileSubject(user, [{ tenant: 't1' as TenantId, id: 'g', userId: user.id, role: PLATFORM_ADMIN, asset: null, createdAt: 0 }], []);
    assert.equal(fake.platformAdmin, false);
    assert.equal(fake.allows('devices:read', { tenant: 't2' }), false);
    assert.equal(fake.allows('tenants:manage', { tenant: 't1' }), false);
  });

  it('an asset grant reaches the subtree only, and only for asset-scoped permissions', () => {
    const tree = new AssetTree([
      { id: 'plant', parent: null },
      { id: 'hall-1', parent: 'plant' },
      { id: 'line-1', parent: 'hall-1' },
      { id: 'hall-2', parent: 'plant' },
    ]);
    const user = { id: 'op' as UserId, tenant: 't1' as TenantId };
    const s = compileSubject(user, [{ tenant: 't1' as TenantId, id: 'g', userId: user.id, role: 'operator', asset: 'hall-1', createdAt: 0 }], []);
    assert.equal(s.allows('devices:write-property', { tenant: 't1', asset: 'line-1' }, tree), true);
    assert.equal(s.allows('devices:write-property', { tenant: 't1', asset: 'hall-1' }, tree), true);
    assert.equal(s.allows('devices:write-property', { tenant: 't1', asset: 'hall-2' }, tree), false);
    assert.equal(s.allows('devices:write-property', { tenant: 't1', asset: 'plant' }, tree), false);
    assert.equal(s.allows('devices:read', { tenant: 't1', asset: null }, tree), false, 'a device off the tree needs a tenant-wide grant');
    assert.equal(s.allows('products:read', { tenant: 't1' }, tree), false, 'products are tenant-scoped');
    assert.equal(s.anywhere('devices:read', 't1'), true);
    assert.deepEqual(s.assetsWith('devices:invoke'), ['hall-1']);
  });
});
