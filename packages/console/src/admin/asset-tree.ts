/**
 * The asset tree as the console draws and edits it, built from the flat list GET /api/v1/assets answers (parent
 * ids). What the page offers follows the platform's rules, so a refusal is the exception: a child's level is
 * deeper than its parent's, and an asset cannot move below itself. Pure.
 */
import { ASSET_LEVELS, type Asset, type AssetLevel } from './admin-api';

export interface AssetNode {
  readonly asset: Asset;
  readonly depth: number;
  readonly children: readonly AssetNode[];
}

const byName = (a: Asset, b: Asset) => a.name.localeCompare(b.name, undefined, { numeric: true }) || a.id.localeCompare(b.id);

/**
 * The forest of the assets given. An asset whose parent is not in the list (a user granted only a subtree sees
 * it without its ancestors) is drawn as a root. A parent loop in corrupt data is cut where it closes.
 */
export function buildTree(assets: readonly Asset[]): AssetNode[] {
  const ids = new Set(assets.map((a) => a.id));
  const children = new Map<string | null, Asset[]>();
  for (const a of assets) {
    const parent = a.parent !== null && ids.has(a.parent) ? a.parent : null;
    const list = children.get(parent) ?? [];
    list.push(a);
    children.set(parent, list);
  }
  const seen = new Set<string>();
  const build = (a: Asset, depth: number): AssetNode => {
    seen.add(a.id);
    const kids = (children.get(a.id) ?? []).filter((c) => !seen.has(c.id)).sort(byName);
    return { asset: a, depth, children: kids.map((c) => build(c, depth + 1)) };
  };
  return (children.get(null) ?? []).sort(byName).map((a) => build(a, 0));
}

/** The nodes in drawing order (depth first), for a flat list with indentation. */
export function flatten(nodes: readonly AssetNode[]): AssetNode[] {
  const out: AssetNode[] = [];
  const walk = (n: AssetNode) => {
    out.push(n);
    for (const c of n.children) walk(c);
  };
  for (const n of nodes) walk(n);
  return out;
}

/** The levels a child of `parent` may have (any level for a root). */
export function childLevels(parent: AssetLevel | null): AssetLevel[] {
  if (parent === null) return [...ASSET_LEVELS];
  return ASSET_LEVELS.slice(ASSET_LEVELS.indexOf(parent) + 1);
}

/** The asset and everything below it. */
export function subtreeIds(assets: readonly Asset[], id: string): Set<string> {
  const out = new Set([id]);
  let grew = true;
  while (grew) {
    grew = false;
    for (const a of assets) {
      if (a.parent !== null && out.has(a.parent) && !out.has(a.id)) {
        out.add(a.id);
        grew = true;
      }
    }
  }
  return out;
}

/** Where `id` may move: not into its own subtree, and only under a shallower level. */
export function moveTargets(assets: readonly Asset[], id: string): Asset[] {
  const self = assets.find((a) => a.id === id);
  if (!self) return [];
  const below = subtreeIds(assets, id);
  const depth = ASSET_LEVELS.indexOf(self.level);
  return assets.filter((a) => !below.has(a.id) && ASSET_LEVELS.indexOf(a.level) < depth).sort(byName);
}

/** The ids from the root down to `id` (as far as the list reaches). */
export function pathTo(assets: readonly Asset[], id: string): string[] {
  const byId = new Map(assets.map((a) => [a.id, a]));
  const path: string[] = [];
  for (let a = byId.get(id); a && !path.includes(a.id); a = a.parent === null ? undefined : byId.get(a.parent)) path.unshift(a.id);
  return path;
}

/** The name to show in the language chosen: the Chinese name when there is one and 中文 is on. */
export function assetName(a: Pick<Asset, 'name' | 'nameZh'>, lang: 'en' | 'zh'): string {
  return lang === 'zh' && a.nameZh ? a.nameZh : a.name;
}
