/**
 * Handle names: `prefix "/" suffix`, UTF-8. RFC 3650 makes handles case-insensitive for ASCII letters only,
 * so the storage key folds A–Z to a–z and leaves every other character exactly as given. Prefix handles
 * are `0.NA/<prefix>`; a prefix may be hierarchical (`88.118.8` is under `88.118` under `88`).
 */
export const MAX_HANDLE_BYTES = 1024;

export interface ParsedHandle {
  readonly prefix: string;
  readonly suffix: string;
}

export function parseHandle(handle: string): ParsedHandle | undefined {
  const slash = handle.indexOf('/');
  if (slash <= 0 || slash === handle.length - 1) return undefined;
  if (Buffer.byteLength(handle, 'utf8') > MAX_HANDLE_BYTES) return undefined;
  return { prefix: handle.slice(0, slash), suffix: handle.slice(slash + 1) };
}

/** The key under which a handle is stored and compared: ASCII case folded, nothing else touched. */
export function normalizeHandle(handle: string): string {
  // For printable ASCII toLowerCase folds exactly A–Z (and runs natively); anything else takes the exact path.
  if (!OUTSIDE_PRINTABLE_ASCII.test(handle)) return handle.toLowerCase();
  return handle.replace(/[A-Z]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 32));
}

const OUTSIDE_PRINTABLE_ASCII = /[^ -~]/;

export function prefixHandle(prefix: string): string {
  return `0.NA/${prefix}`;
}

/** `88.118.8` → [`88.118.8`, `88.118`, `88`]: the prefixes to look for, most specific first. */
export function prefixChain(prefix: string): string[] {
  const parts = prefix.split('.');
  const out: string[] = [];
  for (let i = parts.length; i >= 1; i--) out.push(parts.slice(0, i).join('.'));
  return out;
}
