/** Flag parsing shared by the commands: `--flag value`, `--flag=value`, booleans, and env-var fallbacks. */
import { parseArgs, type ParseArgsConfig } from 'node:util';

type OptionsConfig = NonNullable<ParseArgsConfig['options']>;

export class UsageError extends Error {}

const HELP_OPTION = { help: { type: 'boolean', short: 'h' } } as const;

export function parse<O extends OptionsConfig>(argv: string[], options: O) {
  try {
    return parseArgs({ args: argv, options: { ...options, ...HELP_OPTION }, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

/** A port from a flag, else an env var, else the default; refuses anything but 0–65535. */
export function portOption(value: string | undefined, env: string, fallback: number, flag: string): number {
  const raw = value ?? process.env[env];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new UsageError(`${flag} / ${env}: "${raw}" is not a port number (0–65535)`);
  return n;
}

export function intOption(value: string | undefined, flag: string, fallback: number, min = 0): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new UsageError(`${flag}: "${value}" must be an integer ≥ ${min}`);
  return n;
}

/** The flags of every command that talks to the REST API. */
export const CONNECTION_OPTIONS = { url: { type: 'string' }, tenant: { type: 'string' }, json: { type: 'boolean' } } as const;

export const CONNECTION_HELP = `Connection: --url or IIP_URL (default http://localhost:8080); IIP_TOKEN, or IIP_USERNAME + IIP_PASSWORD.
A platform administrator acts on another tenant with --tenant <id> or IIP_TENANT / 平台管理员用 --tenant 操作其他租户.`;

/** The positional argument at `index`, or a usage error naming it. */
export function required(positionals: readonly string[], index: number, name: string, usage: string): string {
  const v = positionals[index];
  if (v === undefined || v === '') throw new UsageError(`missing <${name}>: ${usage}`);
  return v;
}

/** Refuses positional arguments beyond those a command takes. */
export function noMore(positionals: readonly string[], count: number, usage: string): void {
  if (positionals.length > count) throw new UsageError(`unexpected argument "${positionals[count]}": ${usage}`);
}

/** "none" / "null" / "-" (no asset, a root) as null. */
export function orNone(v: string): string | null {
  return /^(none|null|-)$/i.test(v) ? null : v;
}

/** `help`, `--help` or `-h` in the place of a subcommand, or no subcommand at all. */
export function wantsHelp(sub: string | undefined): boolean {
  return sub === undefined || sub === 'help' || sub === '--help' || sub === '-h';
}
