/** Helpers shared by benchmarks that run their peers in a second process (so the measured CPU is ours). */
import type { ChildProcess } from 'node:child_process';

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
