/**
 * The `iip` command. Each subcommand lives in commands/; this file only dispatches and turns failures
 * into a readable message that starts with its IIP_ERR_* code (then the details and the catalogue's fix)
 * and a non-zero exit status. `--url` and `--tenant` given before the command are passed on to it.
 */
import { pathToFileURL } from 'node:url';
import { IipError, allErrorCodes } from '@iip/core';
import { ApiError } from './api-client.js';
import { UsageError } from './args.js';
import { alarm } from './commands/alarm.js';
import { asset } from './commands/asset.js';
import { audit } from './commands/audit.js';
import { device } from './commands/device.js';
import { id } from './commands/id.js';
import { evaluation } from './commands/eval.js';
import { role } from './commands/role.js';
import { rule } from './commands/rule.js';
import { tenant } from './commands/tenant.js';
import { user } from './commands/user.js';
import './errors.js';

const HELP = `iip — Industrial Internet platform / 工业互联网平台

Usage: iip [--url <url>] [--tenant <id>] <command> [options]
  up          start the platform with the simulated factory / 启动平台和模拟工厂
  simulate    drive simulated devices against a running platform / 向运行中的平台发送模拟数据
  device      create or list devices / 创建或列出设备
  asset       the ISA-95 asset tree and device placement / 资产树与设备放置
  user        users and their role grants / 用户与角色授权
  role        roles and the permission catalogue / 角色与权限目录
  tenant      tenants, usage, retention and quotas / 租户、用量、数据保留与配额
  rule        rules that raise alarms: list, apply, check / 告警规则：列出、应用、校验
  alarm       alarms: list, acknowledge, shelve / 告警：列出、确认、搁置
  edge        run an edge gateway (Modbus, OPC UA) / 运行边缘网关
  id          identifier node and identifiers (Handle) / 标识解析节点与标识
  eval        development-effectiveness evaluation and report / 发展成效评价与报告
  audit       audit events, CSV export, hash-chain check / 审计事件、CSV 导出、哈希链校验
Run 'iip <command> --help' for the options of a command.
--tenant <id> (or IIP_TENANT): a platform administrator acts on another tenant / 平台管理员操作其他租户.`;

/** Flags given before the command that the commands talking to the API take: moved after the command. */
const GLOBAL_FLAGS = new Set(['--url', '--tenant']);

function hoistGlobalFlags(argv: readonly string[]): string[] {
  const hoisted: string[] = [];
  let i = 0;
  for (; i < argv.length; i++) {
    const a = argv[i] as string;
    const name = a.split('=')[0] as string;
    if (!GLOBAL_FLAGS.has(name)) break;
    if (a.includes('=')) hoisted.push(a);
    else {
      const v = argv[i + 1];
      if (v === undefined) throw new UsageError(`${a} needs a value`);
      hoisted.push(a, v);
      i++;
    }
  }
  const [cmd, ...rest] = argv.slice(i);
  return cmd === undefined ? [] : [cmd, ...rest, ...hoisted];
}

/** The refusal as the API gave it (code and message), with details and the catalogue's fix when there are any. */
function describe(e: ApiError | IipError): string {
  const lines = [e instanceof IipError ? `${e.code}: ${e.message}` : e.message];
  if (Object.keys(e.details).length > 0) lines.push(`  details / 详情: ${JSON.stringify(e.details)}`);
  const fix = allErrorCodes().get(e.code)?.fix;
  if (fix) lines.push(`  fix / 处理: ${fix}`);
  return lines.join('\n');
}

export async function main(argv: string[], out: (s: string) => void = (s) => console.log(s), err: (s: string) => void = (s) => console.error(s)): Promise<number> {
  try {
    const [cmd, ...rest] = hoistGlobalFlags(argv);
    switch (cmd) {
      // The platform, the simulator and the edge gateway pull in the protocol stacks (node-opcua prints warnings
      // when loaded): loaded only for the commands that run them, so the API commands start quickly and quietly.
      case 'up':
        await (await import('./commands/up.js')).up(rest, out);
        return 0;
      case 'simulate':
        await (await import('./commands/simulate.js')).simulate(rest, out);
        return 0;
      case 'device':
        await device(rest, out);
        return 0;
      case 'asset':
        await asset(rest, out);
        return 0;
      case 'user':
        await user(rest, out);
        return 0;
      case 'role':
        await role(rest, out);
        return 0;
      case 'tenant':
        await tenant(rest, out);
        return 0;
      case 'rule':
        await rule(rest, out);
        return 0;
      case 'alarm':
        await alarm(rest, out);
        return 0;
      case 'edge':
        await (await import('./commands/edge.js')).edge(rest, out);
        return 0;
      case 'id':
        await id(rest, out);
        return 0;
      case 'eval':
        await evaluation(rest, out);
        return 0;
      case 'audit':
        return await audit(rest, out);
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        out(HELP);
        return 0;
      default:
        throw new UsageError(`unknown command "${cmd}"`);
    }
  } catch (e) {
    if (e instanceof UsageError) {
      err(`IIP_ERR_CLI_USAGE: ${e.message}\n\n${HELP}`);
      return 2;
    }
    if (e instanceof IipError || e instanceof ApiError) {
      err(describe(e));
      return 1;
    }
    err(e instanceof Error ? (e.stack ?? e.message) : String(e));
    return 1;
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
