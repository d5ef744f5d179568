/**
 * The signed-in session. The token lives in sessionStorage: it survives a reload but not closing the tab,
 * which suits shared control-room PCs better than localStorage.
 */
import type { LoginResponse, User } from './api-types';

const KEY = 'iip.session';

export interface Session {
  readonly token: string;
  readonly user: User;
}

export function loadSession(): Session | undefined {
  try {
    const raw = sessionStorage.getItem(KEY);
    if (!raw) return undefined;
    const s = JSON.parse(raw) as Partial<Session>;
    return typeof s.token === 'string' && s.user ? { token: s.token, user: s.user } : undefined;
  } catch {
    return undefined;
  }
}

export function saveSession(r: LoginResponse): Session {
  const s: Session = { token: r.token, user: r.user };
  sessionStorage.setItem(KEY, JSON.stringify(s));
  return s;
}

export function clearSession(): void {
  sessionStorage.removeItem(KEY);
}
