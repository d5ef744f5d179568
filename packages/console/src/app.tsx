/** Root component: shows the sign-in page or the signed-in console, and switches between them. */
import { useCallback, useState } from 'react';
import { LoginPage } from './pages/login-page';
import { type Session, clearSession, loadSession } from './session-store';
import { SignedInApp } from './signed-in-app';

export function App() {
  const [session, setSession] = useState<Session | undefined>(loadSession);
  const [expired, setExpired] = useState(false);
  const signOut = useCallback((wasExpired: boolean) => {
    clearSession();
    setExpired(wasExpired);
    setSession(undefined);
  }, []);
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
  return <SignedInApp session={session} onSignOut={signOut} />;
}
