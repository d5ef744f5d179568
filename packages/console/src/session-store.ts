/**
 * The signed-in session. The token lives in sessionStorage: it survives a reload but not closing the tab,
 * which suits shared control-room PCs better than localStorage.
 */
import type { AccessSummary, LoginResponse, SecurityState, User } from './api-types';

const KEY = 'iip.session';
/** The tenant a platform administrator switched the console to (kept per tab, like the session). */
const TENANT_KEY = 'iip.tenant';

export interface Session {
  readonly token: string;
  readonly user: User;
  /** What the user may do (absent in a session saved by an older console: then nothing is offered). */
  readonly access?: AccessSummary;
  /** The second-factor state (absent: nothing required). */
  readonly security?: SecurityState;
}

export function loadSession(): Session | undefined {
  try {
    const raw = sessionStorage.getItem(KEY);
    if (!raw) return undefined;
    const s = JSON.parse(raw) as Partial<Session>;
    if (typeof s.token !== 'string' || !s.user) return undefined;
    return { token: s.token, user: s.user, ...(s.access && { access: s.access }), ...(s.security && { security: s.security }) };
  } catch {
    return undefined;
  }
}

export function saveSession(r: LoginResponse): Session {
  return storeSession({ token: r.token, user: r.user, ...(r.access && { access: r.access }), ...(r.security && { security: r.security }) });
}

/** Keeps a changed session (the second factor turned on, say) for the next reload. */
export function storeSession(s: Session): Session {
  sessionStorage.setItem(KEY, JSON.stringify(s));
  return s;
}

export function clearSession(): void {
  sessionStorage.removeItem(KEY);
  sessionStorage.removeItem(TENANT_KEY);
}

/** The tenant switched to, if the signed-in user may switch (a platform administrator). */
export function loadActingTenant(s: Session): string | undefined {
  if (!s.access?.platformAdmin) return undefined;
  try {
    const t = sessionStorage.getItem(TENANT_KEY);
    return t && t !== s.user.tenant ? t : undefined;
  } catch {
    return undefined;
  }
}

/** `undefined` (or the own tenant) goes back to acting on the user's own tenant. */
export function saveActingTenant(s: Session, tenant: string | undefined): void {
  try {
    if (tenant === undefined || tenant === s.user.tenant) sessionStorage.removeItem(TENANT_KEY);
    else sessionStorage.setItem(TENANT_KEY, tenant);
  } catch {
    // Not kept across a reload then; the switch still applies until it.
  }
}
