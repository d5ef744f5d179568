/**
 * The one place where anything thrown in a REST request becomes Handle.Net's error body `{responseCode,
 * handle, message}` (plus our stable IIP_ERR_* `code`) with the HTTP status Handle.Net gives that code.
 */
import { IipError } from '@iip/core';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { HandleError } from '../model/handle-error.js';
import { ResponseCode, httpStatusFor } from '../model/response-codes.js';

export interface RestErrorBody {
  responseCode: number;
  handle?: string;
  message: string;
  code: string;
}

export function toHandleError(err: unknown): HandleError {
  if (err instanceof HandleError) return err;
  if (err instanceof IipError) {
    const rc = err.status === 400 ? ResponseCode.INVALID_VALUE : err.status === 404 ? ResponseCode.HANDLE_NOT_FOUND : ResponseCode.ERROR;
    return new HandleError(rc, err.message, { ...err.details }, err.code);
  }
  const fe = err as Partial<FastifyError> & { validation?: unknown };
  if (fe && (Array.isArray(fe.validation) || (typeof fe.code === 'string' && fe.code.startsWith('FST_ERR_CTP')) || err instanceof SyntaxError)) {
    return new HandleError(ResponseCode.INVALID_VALUE, `The request body is not valid: ${fe.message ?? 'bad JSON'}`);
  }
  return new HandleError(ResponseCode.ERROR, 'Internal error.', {}, 'IIP_ERR_INTERNAL');
}

export function restErrorHandler(err: unknown, req: FastifyRequest, reply: FastifyReply): void {
  const e = toHandleError(err);
  if (e.responseCode === ResponseCode.ERROR) req.log.error({ err }, 'unhandled error');
  const handle = (req.params as Record<string, string> | undefined)?.['*'];
  const body: RestErrorBody = { responseCode: e.responseCode, ...(handle ? { handle } : {}), message: e.message, code: e.code };
  void reply.status(httpStatusFor(e.responseCode)).send(body);
}
