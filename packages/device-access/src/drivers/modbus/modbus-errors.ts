/**
 * Turns what modbus-serial throws (plain Errors told apart by `modbusCode`, `errno` and message text) into
 * the platform's typed errors: an exception response keeps its exception code, a silent device is a
 * timeout, a response that cannot be parsed is a frame error, anything else means the link is gone.
 */
import { IipError, isIipError } from '@iip/core';

export interface RequestContext {
  readonly unit: number;
  readonly function: number;
  readonly address: number;
  readonly count: number;
}

const EXCEPTION_NAMES: Readonly<Record<number, string>> = {
  1: 'illegal function',
  2: 'illegal data address',
  3: 'illegal data value',
  4: 'server device failure',
  5: 'acknowledge',
  6: 'server device busy',
  8: 'memory parity error',
  10: 'gateway path unavailable',
  11: 'gateway target device failed to respond',
};

// modbus-serial reports parse failures only through these message texts.
const FRAME_MESSAGES = /CRC error|Data length error|Unexpected data error|Illegal/i;

export function modbusException(code: number, ctx: RequestContext): IipError {
  const name = EXCEPTION_NAMES[code] ?? 'unknown exception';
  return new IipError('IIP_ERR_MODBUS_EXCEPTION', `unit ${ctx.unit} answered FC${ctx.function} at ${ctx.address} with exception ${code} (${name})`, {
    exceptionCode: code,
    exceptionName: name,
    ...ctx,
  });
}

export function frameError(reason: string, ctx: RequestContext): IipError {
  return new IipError('IIP_ERR_MODBUS_FRAME', `malformed response from unit ${ctx.unit} to FC${ctx.function} at ${ctx.address}: ${reason}`, {
    reason,
    ...ctx,
  });
}

export function timeoutError(timeoutMs: number, ctx: RequestContext): IipError {
  return new IipError('IIP_ERR_DRIVER_TIMEOUT', `unit ${ctx.unit} did not answer FC${ctx.function} at ${ctx.address} within ${timeoutMs} ms`, {
    timeoutMs,
    ...ctx,
  });
}

export function linkError(reason: string, details: Record<string, unknown> = {}): IipError {
  return new IipError('IIP_ERR_DRIVER_CONNECT', `Modbus link down: ${reason}`, { reason, ...details });
}

/** Classifies a modbus-serial failure of one request. */
export function classifyModbusError(e: unknown, ctx: RequestContext, timeoutMs: number): IipError {
  if (isIipError(e)) return e;
  const err = e as { modbusCode?: unknown; errno?: unknown; message?: unknown };
  if (typeof err?.modbusCode === 'number') return modbusException(err.modbusCode, ctx);
  if (err?.errno === 'ETIMEDOUT') return timeoutError(timeoutMs, ctx);
  const message = typeof err?.message === 'string' ? err.message : String(e);
  if (FRAME_MESSAGES.test(message)) return frameError(message, ctx);
  return linkError(message, { ...ctx });
}

/** Failures that say nothing about the device itself, only about the channel's link. */
export function isLinkFailure(e: IipError): boolean {
  return e.code === 'IIP_ERR_DRIVER_CONNECT';
}
