/**
 * The Handle data model (RFC 3651): a handle is `prefix/suffix`; it owns a set of values, each with an
 * index, a type, opaque data, a TTL, a timestamp, references and four permission bits. The binary and
 * JSON encodings of values live elsewhere; this is the shape every part of the identifier node shares.
 */
import type { StoredHandleValue } from '@iip/storage';

/** The value shape is the storage port's (defined once there, since storage cannot import services). */
export type HandleValue = StoredHandleValue;
export type HandleReference = StoredHandleValue['references'][number];
export type HandleValuePermissions = StoredHandleValue['permissions'];

export const DEFAULT_VALUE_PERMISSIONS: HandleValuePermissions = { adminRead: true, adminWrite: true, publicRead: true, publicWrite: false };
export const DEFAULT_TTL_SECONDS = 86_400;

/** Reserved value types (RFC 3651 §3). */
export const HS_ADMIN = 'HS_ADMIN';
export const HS_SITE = 'HS_SITE';
export const HS_SITE_PREFIX = 'HS_SITE.PREFIX';
export const HS_SERV = 'HS_SERV';
export const HS_ALIAS = 'HS_ALIAS';
export const HS_VLIST = 'HS_VLIST';
export const HS_PUBKEY = 'HS_PUBKEY';
export const HS_SECKEY = 'HS_SECKEY';

/** HS_ADMIN permission bits (RFC 3651 §3.1.1). */
export const AdminPermission = {
  ADD_HANDLE: 0x0001,
  DELETE_HANDLE: 0x0002,
  ADD_NA: 0x0004,
  DELETE_NA: 0x0008,
  MODIFY_VALUE: 0x0010,
  REMOVE_VALUE: 0x0020,
  ADD_VALUE: 0x0040,
  READ_VALUE: 0x0080,
  MODIFY_ADMIN: 0x0100,
  REMOVE_ADMIN: 0x0200,
  ADD_ADMIN: 0x0400,
  LIST_HANDLES: 0x0800,
} as const;
export const ALL_ADMIN_PERMISSIONS = 0x0fff;

/** The admin a HS_ADMIN value names, and what it may do. */
export interface AdminRecord {
  readonly admin: HandleReference;
  readonly permissions: number;
}

/** Who is asking: an authenticated (handle, index) whose HS_SECKEY/HS_PUBKEY value they proved, or nobody. */
export type Identity = HandleReference | null;
