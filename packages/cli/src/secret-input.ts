/**
 * Passwords for the CLI without putting them on the screen: from a flag, else an environment variable, else
 * standard input — a prompt with echo off on a terminal, or the first line of what is piped in. `--password -`
 * asks for standard input explicitly. The value is never printed.
 */
import { UsageError } from './args.js';

export interface SecretSource {
  /** The flag's value, if given ("-" means standard input). */
  readonly flag: string | undefined;
  /** The flag's name, for messages. */
  readonly flagName: string;
  /** An environment variable to read when the flag is absent (none: go to standard input). */
  readonly env?: string;
  /** What the terminal prompt asks for. */
  readonly prompt: string;
}

export async function readSecret(src: SecretSource): Promise<string> {
  if (src.flag !== undefined && src.flag !== '-') return nonEmpty(src.flag, src);
  if (src.flag === undefined && src.env && process.env[src.env]) return process.env[src.env] as string;
  if (process.stdin.isTTY) {
    const first = await promptHidden(`${src.prompt}: `);
    const again = await promptHidden('again / 再次输入: ');
    if (first !== again) throw new UsageError('the two entries differ / 两次输入不一致');
    return nonEmpty(first, src);
  }
  return nonEmpty(await firstLine(), src);
}

function nonEmpty(v: string, src: SecretSource): string {
  if (v === '') {
    throw new UsageError(`no password given: use ${src.flagName} <password>${src.env ? `, set ${src.env}` : ''} or pipe it on standard input / 未提供密码`);
  }
  return v;
}

async function firstLine(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(typeof c === 'string' ? Buffer.from(c) : (c as Buffer));
  return Buffer.concat(chunks).toString('utf8').split(/\r?\n/)[0] ?? '';
}

/** Reads a line from the terminal in raw mode, echoing nothing. */
function promptHidden(prompt: string): Promise<string> {
  const input = process.stdin;
  return new Promise((resolve, reject) => {
    let value = '';
    const finish = (err?: Error): void => {
      input.off('data', onData);
      input.setRawMode(false);
      input.pause();
      process.stderr.write('\n');
      if (err) reject(err);
      else resolve(value);
    };
    const onData = (chunk: string): void => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n' || ch === '\u0004') {
          finish();
          return;
        }
        if (ch === '\u0003') {
          finish(new UsageError('cancelled / 已取消'));
          return;
        }
        if (ch === '\u007f' || ch === '\b') value = value.slice(0, -1);
        else value += ch;
      }
    };
    process.stderr.write(prompt);
    input.setRawMode(true);
    input.setEncoding('utf8');
    input.on('data', onData);
    input.resume();
  });
}
