// The administration pages' pure parts (issue 12): the asset tree as drawn and edited, which menus and buttons an
// access summary offers, the admin routes, the audit details line, and the bilingual dictionary.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { hasOnAsset, visibleSections } from '../src/admin/admin-access.ts';
import type { Asset } from '../src/admin/admin-api.ts';
import { ADMIN_DICTIONARY, adminErrorText, adminText } from '../src/admin/admin-i18n.ts';
import { assetName, buildTree, childLevels, flatten, moveTargets, pathTo, subtreeIds } from '../src/admin/asset-tree.ts';
import { detailText } from '../src/admin/audit-page.tsx';
import type { AccessSummary } from '../src/api-types.ts';
import { parseRoute, routeHref } from '../src/route.ts';

const asset = (id: string, parent: string | null, level: Asset['level'], name = id): Asset => ({ id, parent, level, name, nameZh: null, createdAt: 0 });
const TREE: Asset[] = [
  asset('grp', null, 'enterprise', 'Group'),
  asset('plant', 'grp', 'site', 'Plant'),
  asset('hall-2', 'plant', 'area', 'Hall 2'),
  asset('hall-10', 'plant', 'area', 'Hall 10'),
  asset('line-3', 'hall-2', 'line', 'Line 3'),
  asset('cell-1', 'line-3', 'cell', 'Cell 1'),
  asset('other', null, 'site', 'Other site'),
];

test('buildTree nests by parent, sorts names naturally, and draws an asset whose parent is not visible as a root', () => {
  const order = flatten(buildTree(TREE)).map((n) => `${'  '.repeat(n.depth)}${n.asset.id}`);
  assert.deepEqual(order, ['grp', '  plant', '    hall-2', '      line-3', '        cell-1', '    hall-10', 'other']);
  // An operator granted hall-2 sees it without its ancestors.
  const partial = flatten(buildTree(TREE.filter((a) => ['hall-2', 'line-3'].includes(a.id)))).map((n) => [n.asset.id, n.depth]);
  assert.deepEqual(partial, [['hall-2', 0], ['line-3', 1]]);
});

test('buildTree survives a parent loop in corrupt data', () => {
  const loop = [asset('a', 'b', 'site'), asset('b', 'a', 'area'), asset('r', null, 'enterprise')];
  assert.deepEqual(flatten(buildTree(loop)).map((n) => n.asset.id), ['r']);
});

test('childLevels: a child is deeper than its parent; a root may be any level; nothing below a cell', () => {
  assert.deepEqual(childLevels(null), ['enterprise', 'site', 'area', 'line', 'cell']);
  assert.deepEqual(childLevels('area'), ['line', 'cell']);
  assert.deepEqual(childLevels('cell'), []);
});

test('moveTargets: never into its own subtree, only under a shallower level', () => {
  assert.deepEqual([...subtreeIds(TREE, 'hall-2')].sort(), ['cell-1', 'hall-2', 'line-3']);
  assert.deepEqual(moveTargets(TREE, 'line-3').map((a) => a.id).sort(), ['grp', 'hall-10', 'hall-2', 'other', 'plant']);
  assert.deepEqual(moveTargets(TREE, 'hall-2').map((a) => a.id).sort(), ['grp', 'other', 'plant']);
  assert.deepEqual(moveTargets(TREE, 'grp'), []);
  assert.deepEqual(moveTargets(TREE, 'missing'), []);
});

test('pathTo and assetName', () => {
  assert.deepEqual(pathTo(TREE, 'cell-1'), ['grp', 'plant', 'hall-2', 'line-3', 'cell-1']);
  assert.equal(assetName({ name: 'Hall 2', nameZh: '二号车间' }, 'zh'), '二号车间');
  assert.equal(assetName({ name: 'Hall 2', nameZh: null }, 'zh'), 'Hall 2');
  assert.equal(assetName({ name: 'Hall 2', nameZh: '二号车间' }, 'en'), 'Hall 2');
});

const summary = (s: Partial<AccessSummary>): AccessSummary => ({ tenant: 't', homeTenant: 't', platformAdmin: false, tenantWide: [], assets: {}, ...s });

test('visibleSections follows the access summary', () => {
  assert.deepEqual(visibleSections(summary({ platformAdmin: true })), ['tenants', 'assets', 'users', 'roles', 'audit']);
  assert.deepEqual(visibleSections(summary({ tenantWide: ['assets:read', 'users:read', 'audit:read'] })), ['assets', 'users', 'roles', 'audit']);
  assert.deepEqual(visibleSections(summary({ tenantWide: ['roles:manage'] })), ['roles']);
  // An operator of one hall: the tree (its part), nothing else.
  assert.deepEqual(visibleSections(summary({ assets: { 'hall-2': ['assets:read', 'devices:read'] } })), ['assets']);
  // users:read on an asset means nothing: it is a tenant permission.
  assert.deepEqual(visibleSections(summary({ assets: { 'hall-2': ['users:read', 'audit:read'] } })), []);
  assert.deepEqual(visibleSections(undefined), []);
});

test('hasOnAsset: on the asset, on an ancestor, or tenant-wide; not on a sibling or a child', () => {
  const s = summary({ assets: { 'hall-2': ['assets:write'] } });
  assert.equal(hasOnAsset(s, 'assets:write', TREE, 'hall-2'), true);
  assert.equal(hasOnAsset(s, 'assets:write', TREE, 'cell-1'), true);
  assert.equal(hasOnAsset(s, 'assets:write', TREE, 'hall-10'), false);
  assert.equal(hasOnAsset(s, 'assets:write', TREE, 'plant'), false);
  assert.equal(hasOnAsset(summary({ tenantWide: ['assets:write'] }), 'assets:write', TREE, 'other'), true);
  assert.equal(hasOnAsset(undefined, 'assets:write', TREE, 'grp'), false);
});

test('admin routes parse and print back', () => {
  for (const kind of ['tenants', 'assets', 'users', 'roles', 'audit'] as const) {
    assert.deepEqual(parseRoute(routeHref({ kind })), { kind });
  }
  assert.deepEqual(parseRoute('#/users?x=1'), { kind: 'users' });
  assert.deepEqual(parseRoute('#/usersx'), { kind: 'devices' });
});

test('detailText puts status and code first', () => {
  assert.equal(detailText({ status: 403, code: 'IIP_ERR_AUTH_FORBIDDEN', permission: 'users:read' }), '403 · IIP_ERR_AUTH_FORBIDDEN · permission=users:read');
  assert.equal(detailText({}), '');
});

const placeholders = (s: string) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();

test('the admin dictionary: same keys, same placeholders, nothing empty, Chinese in Chinese', () => {
  const keys = Object.keys(ADMIN_DICTIONARY.en).sort();
  assert.deepEqual(Object.keys(ADMIN_DICTIONARY.zh).sort(), keys);
  for (const k of keys as Array<keyof typeof ADMIN_DICTIONARY.en>) {
    assert.ok(ADMIN_DICTIONARY.zh[k].trim() && ADMIN_DICTIONARY.en[k].trim(), `${k} is empty`);
    assert.deepEqual(placeholders(ADMIN_DICTIONARY.zh[k]), placeholders(ADMIN_DICTIONARY.en[k]), `${k} placeholders`);
  }
  const han = Object.values(ADMIN_DICTIONARY.zh).filter((s) => /[\u4e00-\u9fff]/.test(s)).length;
  assert.ok(han / keys.length > 0.95, `only ${han} of ${keys.length} Chinese strings`);
  assert.equal(adminText('zh', 'tenants.created', { id: 'acme' }), '租户 acme 已创建。');
  assert.equal(adminErrorText('en', 'IIP_ERR_ASSET_NOT_EMPTY')?.startsWith('The asset is not empty'), true);
  assert.equal(adminErrorText('en', 'IIP_ERR_SOMETHING_ELSE'), undefined);
});
