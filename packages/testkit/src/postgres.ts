/**
 * A throwaway PostgreSQL server for tests and benchmarks: Debian's server binaries initialise a cluster in a
 * temporary directory, the postmaster listens on a free port on 127.0.0.1 (and a unix socket inside that
 * directory), and everything is removed again by `stop()`. No test depends on or disturbs a system service.
 *
 * One server per test file is the intended use (starting takes a second or so); each test takes a fresh
 * database from `createDatabase()`.
 *
 * Nothing is left running after a crashed test run: beside the postmaster runs a tiny watchdog shell that holds
 * a pipe from this process. Whenever that pipe closes — `stop()`, a normal exit, an uncaught exception, even
 * SIGKILL of the test process — the watchdog shuts the postmaster down (immediate mode) and removes the
 * directory. `stop()` uses the same path, so there is one way down; it resolves once the server is gone (the
 * directory of a cluster with many test databases can take a few seconds more to delete).
 *
 * PostgreSQL refuses to run as root; when the tests run as root (as on the CI machine), the cluster belongs to
 * the `postgres` system user and the server processes run as that user.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, tempDir } from './index.js';

export interface PostgresOptions {
  /**
   * fsync and synchronous_commit. Off by default: a test cluster is deleted afterwards, so surviving an OS
   * crash does not matter and the tests run faster. A benchmark that measures durable writes turns it on.
   */
  readonly fsync?: boolean;
  /** Name of the database created at start (default `iip`); `url` points at it. */
  readonly database?: string;
  /** Extra `-c name=value` server settings. */
  readonly settings?: Readonly<Record<string, string | number>>;
}

export interface PostgresServer {
  /** postgres://postgres@127.0.0.1:<port>/<database> — trust authentication, no password. */
  readonly url: string;
  readonly port: number;
  readonly dataDir: string;
  /** Directory of the unix socket. */
  readonly socketDir: string;
  /** Creates a fresh, empty database and returns its URL (a generated name unless `name` is given). */
  createDatabase(name?: string): Promise<string>;
  /** Sends `signal` to the postmaster and waits until it has exited; the data stays for `restart()`.
   * SIGINT is a fast shutdown, SIGTERM a smart one (waits for clients), SIGKILL/SIGQUIT a crash. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Stops the postmaster if it runs (fast shutdown) and starts it again on the same port and data. */
  restart(): Promise<void>;
  /** Stops the server; its directory is removed right after, in the background. Safe to call twice. */
  stop(): Promise<void>;
}

/** The newest PostgreSQL major under /usr/lib/postgresql that has the server binaries. */
function serverBinDir(): string {
  const root = '/usr/lib/postgresql';
  const majors = existsSync(root)
    ? readdirSync(root)
        .filter((v) => /^\d+$/.test(v) && existsSync(join(root, v, 'bin', 'postgres')) && existsSync(join(root, v, 'bin', 'initdb')))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  if (majors.length === 0) {
    throw new Error(
      'PostgreSQL server binaries not found under /usr/lib/postgresql/<major>/bin (initdb, postgres); install them with: apt-get install -y postgresql',
    );
  }
  return join(root, majors[0]!, 'bin');
}

interface Owner {
  readonly uid: number;
  readonly gid: number;
}

/** As root, the `postgres` system user; otherwise the current user. */
function serverOwner(): Owner | undefined {
  if (process.getuid?.() !== 0) return undefined;
  try {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
    return { uid, gid };
  } catch {
    throw new Error('running as root, but there is no "postgres" system user to run PostgreSQL as; install it with: apt-get install -y postgresql');
  }
}

/** Runs a PostgreSQL client/admin binary to completion; rejects with its output on a non-zero exit. */
function runTool(bin: string, args: readonly string[], owner: Owner | undefined, timeoutMs = 30_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'], ...(owner ?? {}), env: { ...process.env, LC_ALL: 'C' } });
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      out += d.toString();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`${bin} ${args.join(' ')} failed (${signal ?? `exit ${code}`}): ${out.trim()}`));
    });
  });
}

let dbCounter = 0;

/**
 * The children are unref'd so a forgotten server never keeps the test process alive (the watchdog cleans up
 * after it); while we wait for one to exit, it must hold the event loop, or the process would end mid-wait.
 */
async function waitHeld(exit: Promise<void>, child: ChildProcess | undefined): Promise<void> {
  child?.ref();
  try {
    await exit;
  } finally {
    child?.unref();
  }
}

export async function startPostgres(opts: PostgresOptions = {}): Promise<PostgresServer> {
  const bin = serverBinDir();
  const owner = serverOwner();
  const dir = await tempDir('iip-pg-');
  const dataDir = join(dir.path, 'data');
  const socketDir = join(dir.path, 'sock');
  mkdirSync(socketDir);
  if (owner) {
    chownSync(dir.path, owner.uid, owner.gid);
    chownSync(socketDir, owner.uid, owner.gid);
  }

  // The watchdog learns the postmaster's pid line by line; when its stdin closes it stops the last one and
  // removes the directory. It runs as the caller (root may signal the postgres user's processes).
  const watchdog = spawn(
    '/bin/sh',
    [
      '-c',
      'pid=""; while read -r line; do pid="$line"; done; ' +
        'if [ -n "$pid" ]; then kill -QUIT "$pid" 2>/dev/null; while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done; fi; ' +
        'echo down; exec rm -rf "$1"',
      'iip-pg-watchdog',
      dir.path,
    ],
    { stdio: ['pipe', 'pipe', 'ignore'], detached: true },
  );
  watchdog.unref();
  (watchdog.stdin as unknown as { unref?: () => void }).unref?.();
  (watchdog.stdout as unknown as { unref?: () => void }).unref?.();
  // "down" once the postmaster is gone; removing a large directory may take a while longer and goes on in the
  // background (the watchdog is detached), so stop() does not wait for it.
  const serverDown = new Promise<void>((resolve) => {
    watchdog.stdout?.on('data', () => resolve());
    watchdog.on('exit', () => resolve());
  });

  let postmaster: ChildProcess | undefined;
  let postmasterExit: Promise<void> = Promise.resolve();
  let stopped = false;

  const fail = async (e: unknown): Promise<never> => {
    watchdog.stdin?.end();
    await waitHeld(serverDown, watchdog);
    throw e;
  };

  try {
    await runTool(
      join(bin, 'initdb'),
      ['-D', dataDir, '-U', 'postgres', '--auth=trust', '--encoding=UTF8', '--locale=C', '--no-sync', '--no-instructions'],
      owner,
    );
  } catch (e) {
    return fail(e);
  }

  const port = await freePort();
  const fsync = opts.fsync ?? false;
  const settings: Record<string, string | number> = {
    listen_addresses: '127.0.0.1',
    port,
    unix_socket_directories: socketDir,
    // See PostgresOptions.fsync: off only because the cluster is thrown away.
    fsync: fsync ? 'on' : 'off',
    synchronous_commit: fsync ? 'on' : 'off',
    full_page_writes: fsync ? 'on' : 'off',
    max_connections: 200,
    shared_buffers: '128MB',
    logging_collector: 'off',
    ...opts.settings,
  };
  const args = ['-D', dataDir];
  for (const [k, v] of Object.entries(settings)) args.push('-c', `${k}=${v}`);

  const isReady = async (): Promise<boolean> => {
    try {
      await runTool(join(bin, 'pg_isready'), ['-q', '-h', socketDir, '-p', String(port), '-U', 'postgres', '-d', 'postgres'], owner, 5_000);
      return true;
    } catch {
      return false;
    }
  };

  /** Starts the postmaster and resolves once it accepts connections; rejects with its log if it exits first. */
  const launch = async (): Promise<void> => {
    const child = spawn(join(bin, 'postgres'), args, { stdio: ['ignore', 'ignore', 'pipe'], detached: true, ...(owner ?? {}) });
    let log = '';
    child.stderr?.on('data', (d: Buffer) => {
      log = (log + d.toString()).slice(-8_000);
    });
    child.unref();
    (child.stderr as unknown as { unref?: () => void } | null)?.unref?.();
    let exited = false;
    postmasterExit = new Promise<void>((resolve) => {
      child.on('exit', () => {
        exited = true;
        resolve();
      });
    });
    postmaster = child;
    if (child.pid !== undefined) watchdog.stdin?.write(`${child.pid}\n`);
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (exited) throw new Error(`postgres exited during start on port ${port}: ${log.trim()}`);
      if (await isReady()) return;
      if (Date.now() > deadline) throw new Error(`postgres did not accept connections within 60 s on port ${port}: ${log.trim()}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };

  /** After a crash, orphaned backends may hold the old shared memory for a moment; retry the start. */
  const launchWithRetry = async (): Promise<void> => {
    let last: unknown;
    for (let attempt = 0; attempt < 50; attempt++) {
      try {
        await launch();
        return;
      } catch (e) {
        last = e;
        if (!/already in use|shared memory|lock file/i.test(String(e))) throw e;
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    throw last;
  };

  const signalPostmaster = (signal: NodeJS.Signals): void => {
    const pid = postmaster?.pid;
    if (pid === undefined || postmaster?.exitCode !== null || postmaster.signalCode !== null) return;
    try {
      process.kill(-pid, signal);
    } catch {
      try {
        process.kill(pid, signal);
      } catch {
        // already gone
      }
    }
  };

  const psql = (sql: string): Promise<string> =>
    runTool(join(bin, 'psql'), ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-h', socketDir, '-p', String(port), '-U', 'postgres', '-d', 'postgres', '-c', sql], owner);

  const database = opts.database ?? 'iip';
  const urlOf = (db: string) => `postgres://postgres@127.0.0.1:${port}/${db}`;

  try {
    await launch();
    await psql(`CREATE DATABASE "${database}"`);
  } catch (e) {
    return fail(e);
  }

  return {
    url: urlOf(database),
    port,
    dataDir,
    socketDir,
    async createDatabase(name?: string): Promise<string> {
      const db = name ?? `t_${process.pid}_${++dbCounter}`;
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(db)) throw new Error(`database name "${db}" must be a plain SQL identifier`);
      await psql(`CREATE DATABASE "${db}"`);
      return urlOf(db);
    },
    async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
      signalPostmaster(signal);
      await waitHeld(postmasterExit, postmaster);
    },
    async restart(): Promise<void> {
      if (stopped) throw new Error('this PostgreSQL server was stopped for good; start a new one');
      signalPostmaster('SIGINT');
      await waitHeld(postmasterExit, postmaster);
      await launchWithRetry();
    },
    async stop(): Promise<void> {
      if (stopped) return;
      stopped = true;
      watchdog.stdin?.end();
      await waitHeld(serverDown, watchdog);
      await waitHeld(postmasterExit, postmaster);
      watchdog.stdout?.destroy();
    },
  };
}
