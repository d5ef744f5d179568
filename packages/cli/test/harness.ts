/**
 * What the CLI's tests against a running platform share: running `iip` through `main` as bin/iip.mjs does (or as a
 * real process, for standard input), and reading its outcome.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { main } from '@iip/cli';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));

export interface Run {
  code: number;
  out: string;
  err: string;
}

export async function iip(...argv: string[]): Promise<Run> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(
    argv,
    (s) => out.push(s),
    (s) => err.push(s),
  );
  return { code, out: out.join('\n'), err: err.join('\n') };
}

export function ok(r: Run): Run {
  assert.equal(r.code, 0, `exit ${r.code}\nstdout: ${r.out}\nstderr: ${r.err}`);
  return r;
}

export function json<T>(r: Run): T {
  return JSON.parse(ok(r).out) as T;
}

/** A refusal: exit 1 and the code first on stderr. */
export function refused(r: Run, code: string): void {
  assert.equal(r.code, 1, `expected a refusal, got exit ${r.code}: ${r.out}${r.err}`);
  assert.match(r.err, new RegExp(`^${code}: `), r.err);
}

/**
 * The real `iip` process with `input` on its standard input. Asynchronous: the platform under test runs in this
 * process and must go on answering.
 */
export function iipProcess(argv: string[], input: string, env: Record<string, string> = {}): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'packages/cli/src/main.ts', ...argv], { cwd: ROOT, env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout, stderr }));
    child.stdin.end(input);
  });
}
