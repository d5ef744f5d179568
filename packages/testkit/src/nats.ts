/**
 * A throwaway NATS server with JetStream for tests: `nats-server -js` on a free port of 127.0.0.1, its
 * file store in a fresh temporary directory. `stop()` ends it and removes the store; `kill()` ends it
 * the hard way (SIGKILL by default) and keeps the store, so `restart()` brings the same server back on the
 * same port with the same data — the fault tests of the bus use that.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { freePort, tempDir } from './index.js';

export interface NatsServer {
  /** `nats://127.0.0.1:<port>` */
  readonly url: string;
  readonly port: number;
  /** The JetStream store directory (kept across `kill` and `restart`, removed by `stop`). */
  readonly storeDir: string;
  /** True while the server process runs. */
  readonly running: boolean;
  /** Ends the server (SIGTERM, then SIGKILL) and removes its store. */
  stop(): Promise<void>;
  /** Ends the server with `signal` (default SIGKILL) and waits for it to exit; the store stays. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Starts the server again (after `kill`) on the same port with the same store; waits until ready. */
  restart(): Promise<void>;
}

export interface StartNatsOptions {
  /** The server binary (default: `nats-server` on the PATH, else /usr/sbin/nats-server). */
  readonly bin?: string;
  /** Milliseconds to wait for "Server is ready" (default 15,000). */
  readonly readyTimeoutMs?: number;
}

const INSTALL_HINT = 'nats-server is not installed: apt-get install -y nats-server (Debian/Ubuntu), or put the binary on the PATH';

function findBinary(explicit?: string): string {
  if (explicit) {
    if (!existsSync(explicit)) throw new Error(`${explicit} does not exist. ${INSTALL_HINT}`);
    return explicit;
  }
  const probe = spawnSync('nats-server', ['--version'], { encoding: 'utf8' });
  if (!probe.error && probe.status === 0) return 'nats-server';
  if (existsSync('/usr/sbin/nats-server')) return '/usr/sbin/nats-server';
  throw new Error(INSTALL_HINT);
}

/** Starts `nats-server -js` on a free port with a temporary store; resolves when it accepts clients. */
export async function startNats(opts: StartNatsOptions = {}): Promise<NatsServer> {
  const bin = findBinary(opts.bin);
  const readyTimeoutMs = opts.readyTimeoutMs ?? 15_000;
  const port = await freePort();
  const store = await tempDir('iip-nats-');
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();

  const launch = async (): Promise<void> => {
    const args = ['-js', '-sd', store.path, '-a', '127.0.0.1', '-p', String(port), '-n', `iip-test-${port}`];
    const c = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    child = c;
    exited = new Promise((resolve) => c.once('exit', () => resolve()));
    let log = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        c.kill('SIGKILL');
        reject(new Error(`nats-server did not become ready within ${readyTimeoutMs} ms:\n${log}`));
      }, readyTimeoutMs);
      const onData = (d: Buffer): void => {
        log += d.toString();
        if (log.includes('Server is ready')) {
          clearTimeout(timer);
          resolve();
        }
      };
      c.stdout?.on('data', onData);
      c.stderr?.on('data', onData);
      c.once('error', (e) => {
        clearTimeout(timer);
        reject(new Error(`nats-server could not be started (${e.message}). ${INSTALL_HINT}`));
      });
      c.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`nats-server exited before it was ready (code ${code}, signal ${signal}):\n${log}`));
      });
    });
    // Keep draining its output so that a chatty server never blocks on a full pipe.
    c.stdout?.removeAllListeners('data');
    c.stderr?.removeAllListeners('data');
    c.stdout?.resume();
    c.stderr?.resume();
  };

  const kill = async (signal: NodeJS.Signals = 'SIGKILL'): Promise<void> => {
    const c = child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    c.kill(signal);
    await exited;
  };

  await launch();
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    storeDir: store.path,
    get running() {
      return child !== undefined && child.exitCode === null && child.signalCode === null;
    },
    kill,
    async restart() {
      await kill('SIGKILL');
      await launch();
    },
    async stop() {
      const c = child;
      if (c && c.exitCode === null && c.signalCode === null) {
        const t = setTimeout(() => c.kill('SIGKILL'), 5_000);
        await kill('SIGTERM');
        clearTimeout(t);
      }
      await store.cleanup();
    },
  };
}
