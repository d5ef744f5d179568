/**
 * What the console's e2e tests share: building the bundle when src/ is newer, launching Debian's chromium
 * with a fresh profile, signing in, a locator's text as read, and a screenshot left in /tmp when a step fails.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type BrowserContext, chromium, type Locator, type Page } from 'playwright-core';

export const CONSOLE_DIR = fileURLToPath(new URL('..', import.meta.url));
export const DIST = join(CONSOLE_DIR, 'dist');
const CHROMIUM = process.env.IIP_CHROMIUM ?? '/usr/bin/chromium';

function newestMtime(dir: string): number {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    newest = Math.max(newest, e.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return newest;
}

function isFresh(): boolean {
  const index = join(DIST, 'index.html');
  return existsSync(index) && statSync(index).mtimeMs >= newestMtime(join(CONSOLE_DIR, 'src'));
}

/**
 * Builds the console when dist/ is missing or older than src/, so a test never runs a stale bundle. The
 * e2e files run in parallel processes; a lock directory keeps two of them from emptying dist/ under each
 * other (a lock older than the slowest build is taken to be left over from a killed run).
 */
export function ensureBuilt(): void {
  if (isFresh()) return;
  const lock = join(tmpdir(), 'iip-console-e2e-build.lock');
  const deadline = Date.now() + 180_000;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      if (Date.now() - (statSync(lock, { throwIfNoEntry: false })?.mtimeMs ?? Date.now()) > 180_000) rmSync(lock, { recursive: true, force: true });
      if (Date.now() > deadline) throw new Error(`waited 180 s for ${lock}; remove it if no build is running`);
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 250);
    }
  }
  try {
    if (isFresh()) return;
    execFileSync(process.platform === 'win32' ? 'npx.cmd' : 'npx', ['vite', 'build', '--logLevel', 'warn'], {
      cwd: CONSOLE_DIR,
      stdio: 'inherit',
    });
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

/** Chromium with its own fresh --user-data-dir; `close()` removes the profile too. */
export async function launchBrowser(): Promise<{ context: BrowserContext; close(): Promise<void> }> {
  const profileDir = mkdtempSync(join(tmpdir(), 'iip-console-e2e-chromium-'));
  // A persistent context is playwright's way of running chromium with an explicit, fresh --user-data-dir.
  const context = await chromium.launchPersistentContext(profileDir, {
    executablePath: CHROMIUM,
    headless: true,
    locale: 'en-US',
    viewport: { width: 1400, height: 900 },
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  return {
    context,
    async close() {
      await context.close().catch(() => undefined);
      rmSync(profileDir, { recursive: true, force: true });
    },
  };
}

/** Runs a step and leaves a screenshot in /tmp when it fails, since a headless failure is otherwise blind. */
export async function withScreenshot(page: Page, name: string, step: () => Promise<void>): Promise<void> {
  try {
    await step();
  } catch (e) {
    const file = join('/tmp', `iip-console-e2e-${name}-${Date.now()}.png`);
    await page.screenshot({ path: file, fullPage: true }).catch(() => undefined);
    throw new Error(`${(e as Error).message}\nscreenshot: ${file}`, { cause: e });
  }
}

/** A locator's text with its white space folded, as a reader sees it. */
export async function text(l: Locator): Promise<string | undefined> {
  return (await l.textContent())?.replace(/\s+/g, ' ').trim();
}

/** Opens the console at `url` and signs in through its login form; the caller waits for the page it expects. */
export async function signIn(page: Page, url: string, username: string, password: string): Promise<void> {
  await page.goto(url);
  await page.getByTestId('login-username').fill(username);
  await page.getByTestId('login-password').fill(password);
  await page.getByTestId('login-submit').click();
}
