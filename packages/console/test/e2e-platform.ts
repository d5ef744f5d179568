/**
 * The real platform and browser an e2e file runs against: the console built, a platform on free ports with its own
 * data directory and the console's bundle, the administrator signed in over REST (to set up and to check what a page
 * changed), and Debian's chromium with a fresh profile. `close()` stops and removes all of it, and so does a start
 * that fails half-way.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPlatform } from '@iip/server';
import { apiCaller, type Call } from './e2e-api.ts';
import { DIST, ensureBuilt, launchBrowser } from './e2e-browser.ts';

export type E2ePlatform = Awaited<ReturnType<typeof startPlatform>>;
export type E2eBrowser = Awaited<ReturnType<typeof launchBrowser>>;

export interface ConsoleE2e {
  readonly platform: E2ePlatform;
  readonly browser: E2eBrowser;
  /** REST calls as the administrator. */
  readonly call: Call;
  close(): Promise<void>;
}

/** `name` tells the data directory apart in /tmp; `adminPassword` is the bootstrap administrator's. */
export async function startConsoleE2e(name: string, adminPassword: string): Promise<ConsoleE2e> {
  ensureBuilt();
  const dataDir = mkdtempSync(join(tmpdir(), `iip-console-${name}-e2e-data-`));
  let platform: E2ePlatform | undefined;
  let browser: E2eBrowser | undefined;
  const close = async () => {
    await browser?.close();
    await platform?.close().catch(() => undefined);
    rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    const started = await startPlatform({ dataDir, httpPort: 0, mqttPort: 0, adminPassword, consoleDir: DIST });
    platform = started;
    let token = '';
    const call = apiCaller(() => started.httpUrl, () => token);
    const login = await call<{ token: string }>('POST', '/auth/login', { body: { username: 'admin', password: adminPassword }, bearer: '' });
    assert.equal(login.status, 200);
    token = login.body.token;
    browser = await launchBrowser();
    return { platform: started, browser, call, close };
  } catch (e) {
    await close();
    throw e;
  }
}
