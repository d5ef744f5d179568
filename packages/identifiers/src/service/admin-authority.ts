/**
 * Who may do what to a handle (RFC 3651 §3.1.1, RFC 3652 §3.5): an identity holds a permission when an
 * HS_ADMIN value of the handle grants that bit to it — directly, or through an HS_VLIST group it belongs to
 * (groups may nest). An admin reference with index 0 stands for every key of that handle, as Handle.Net
 * reads it. Groups are looked up in this node's store only; a group homed elsewhere grants nothing here.
 */
import { decodeAdminData, decodeVList } from '../model/admin-data.js';
import { normalizeHandle } from '../model/handle-name.js';
import { HS_ADMIN, HS_VLIST, type HandleReference, type HandleValue } from '../model/handle-value.js';

/** Finds one value of a stored handle (the service passes a store lookup). */
export type ValueLookup = (ref: HandleReference) => Promise<HandleValue | undefined>;

/** Nesting deeper than this is treated as not a member: it bounds the work a crafted group can cause. */
const MAX_GROUP_DEPTH = 8;

function sameIdentity(ref: HandleReference, who: HandleReference): boolean {
  return (ref.index === 0 || ref.index === who.index) && normalizeHandle(ref.handle) === normalizeHandle(who.handle);
}

/** True when `who` is `ref` or a member of the HS_VLIST group `ref` names (recursively). */
export async function isIdentityOrMember(ref: HandleReference, who: HandleReference, lookup: ValueLookup, depth = 0, seen = new Set<string>()): Promise<boolean> {
  if (sameIdentity(ref, who)) return true;
  if (depth >= MAX_GROUP_DEPTH || ref.index === 0) return false;
  const key = `${ref.index}:${normalizeHandle(ref.handle)}`;
  if (seen.has(key)) return false;
  seen.add(key);
  const group = await lookup(ref);
  if (!group || group.type !== HS_VLIST) return false;
  let members: HandleReference[];
  try {
    members = decodeVList(group.data);
  } catch {
    return false;
  }
  for (const m of members) if (await isIdentityOrMember(m, who, lookup, depth + 1, seen)) return true;
  return false;
}

/** The union of the permission bits the HS_ADMIN values of `values` grant to `who`. */
export async function permissionsOf(values: readonly HandleValue[], who: HandleReference | null, lookup: ValueLookup): Promise<number> {
  if (!who) return 0;
  let bits = 0;
  for (const v of values) {
    if (v.type !== HS_ADMIN) continue;
    let rec: ReturnType<typeof decodeAdminData>;
    try {
      rec = decodeAdminData(v.data);
    } catch {
      continue;
    }
    if ((bits | rec.permissions) === bits) continue;
    if (await isIdentityOrMember(rec.admin, who, lookup)) bits |= rec.permissions;
  }
  return bits;
}
