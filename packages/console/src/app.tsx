/**
 * Root component: shows the sign-in page, the second-factor enrollment (while the tenant requires one this
 * session has not set up), or the signed-in console, and switches between them.
 */
import { useCallback, useState } from 'react';
import { EnrollPage } from './account/enroll-page';
import { accountApi, mustEnroll } from './account/security-api';
import { ApiClient } from './api-client';
import type { SecurityState } from './api-types';
import { LoginPage } from './pages/login-page';
import { type Session, clearSession, loadSession, storeSession } from './session-store';
import { SignedInApp } from './signed-in-app';

export function App() {
  const [session, setSession] = useState<Session | undefined>(loadSession);
  const [expired, setExpired] = useState(false);
  const signOut = useCallback((wasExpired: boolean) => {
    clearSession();
    setExpired(wasExpired);
    setSession(undefined);
  }, []);
  const setSecurity = useCallback((security: SecurityState) => {
    setSession((s) => (s ? storeSession({ ...s, security }) : s));
  }, []);
  /** The platform refused a call for a missing second factor (the tenant's rule changed meanwhile): ask /auth/me. */
  const token = session?.token;
  const enrollRequired = useCallback(() => {
    if (!token) return;
    accountApi.me(new ApiClient({ token })).then(
      (me) => me.security && setSecurity(me.security),
      () => undefined,
    );
  }, [token, setSecurity]);
  if (!session) {
    return (
      <LoginPage
        expired={expired}
        onSignedIn={(s) => {
          setExpired(false);
          setSession(s);
        }}
      />
    );
  }
  if (mustEnroll(session.security)) return <EnrollPage session={session} onEnrolled={setSecurity} onSignOut={signOut} />;
  return <SignedInApp session={session} onSignOut={signOut} onSecurity={setSecurity} onEnrollRequired={enrollRequired} />;
}
