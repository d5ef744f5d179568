/** Helpers shared by benchmarks that run their peers in a second process (so the measured CPU is ours). */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** Asks a peer process to stop (closing its stdin) and kills it if it has not exited within 5 s. */
export function stopChild(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve();
    const kill = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    child.stdin?.end();
  });
}

/**
 * Runs a TypeScript script of the benchmarks (bench/<name>.ts) in its own Node process with `job` as JSON in
 * argv[2]; `done` resolves to the last line it printed, parsed as JSON, or rejects if it exits non-zero.
 */
export function runJsonChild<R>(script: string, job: unknown): { child: ChildProcess; done: Promise<R> } {
  const path = fileURLToPath(new URL(`./${script}`, import.meta.url));
  const child = spawn(process.execPath, ['--import', 'tsx', path, JSON.stringify(job)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  const done = new Promise<R>((resolve, reject) =>
    child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out.trim().split('\n').pop() as string) as R) : reject(new Error(`${script} exited with ${code}`)))),
  );
  return { child, done };
}
