/**
 * The `iip` command. Each subcommand lives in commands/; this file only dispatches and turns failures
 * into one readable line with its IIP_ERR_* code and a non-zero exit status.
 */
import { pathToFileURL } from 'node:url';
import { IipError } from '@iip/core';
import { ApiError } from './api-client.js';
import { UsageError } from './args.js';
import { audit } from './commands/audit.js';
import { device } from './commands/device.js';
import { edge } from './commands/edge.js';
import { id } from './commands/id.js';
import { evaluation } from './commands/eval.js';
import { simulate } from './commands/simulate.js';
import { tenant } from './commands/tenant.js';
import { up } from './commands/up.js';
import './errors.js';

const HELP = `iip — Industrial Internet platform / 工业互联网平台

Usage: iip <command> [options]
  up          start the platform with the simulated factory / 启动平台和模拟工厂
  simulate    drive simulated devices against a running platform / 向运行中的平台发送模拟数据
  device      create or list devices / 创建或列出设备
  tenant      usage, retention and quotas / 租户用量、数据保留与配额
  edge        run an edge gateway (Modbus, OPC UA) / 运行边缘网关
  id          identifier node and identifiers (Handle) / 标识解析节点与标识
  eval        development-effectiveness evaluation and report / 发展成效评价与报告
  audit       verify the audit event log's hash chains / 校验审计日志哈希链
Run 'iip <command> --help' for the options of a command.`;

export async function main(argv: string[], out: (s: string) => void = (s) => console.log(s)): Promise<number> {
  const [cmd, ...rest] = argv;
  try {
    switch (cmd) {
      case 'up':
        await up(rest, out);
        return 0;
      case 'simulate':
        await simulate(rest, out);
        return 0;
      case 'device':
        await device(rest, out);
        return 0;
      case 'tenant':
        await tenant(rest, out);
        return 0;
      case 'edge':
        await edge(rest, out);
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
      console.error(`IIP_ERR_CLI_USAGE: ${e.message}\n\n${HELP}`);
      return 2;
    }
    if (e instanceof IipError || e instanceof ApiError) {
      console.error(e instanceof IipError ? `${e.code}: ${e.message}` : e.message);
      return 1;
    }
    console.error(e);
    return 1;
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
