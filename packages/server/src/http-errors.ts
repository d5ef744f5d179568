/**
 * The one place where anything thrown inside a request becomes the API's error shape
 * `{code, message, details}` with a stable IIP_ERR_* code.
 */
import { IipError } from '@iip/core';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';

interface FastifyValidationIssue {
  instancePath?: string;
  message?: string;
  params?: Record<string, unknown>;
}

export function toIipError(err: unknown): IipError {
  if (err instanceof IipError) return err;
  const fe = err as FastifyError & { validation?: FastifyValidationIssue[]; validationContext?: string };
  if (fe && Array.isArray(fe.validation)) {
    const first = fe.validation[0];
    const field = `${fe.validationContext ?? 'body'}${first?.instancePath ?? ''}`;
    return new IipError('IIP_ERR_VALIDATION', `${field} ${first?.message ?? 'is invalid'}`, {
      field,
      rule: first?.params ?? {},
    });
  }
  switch (fe?.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new IipError('IIP_ERR_PAYLOAD_TOO_LARGE', 'request body exceeds the size limit', {});
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new IipError('IIP_ERR_PAYLOAD_NOT_JSON', `body is not valid JSON: ${fe.message}`, {});
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new IipError('IIP_ERR_VALIDATION', `unsupported Content-Type: ${fe.message}`, { field: 'content-type' });
    default:
      break;
  }
  if (err instanceof SyntaxError) return new IipError('IIP_ERR_PAYLOAD_NOT_JSON', `body is not valid JSON: ${err.message}`, {});
  return new IipError('IIP_ERR_INTERNAL', 'internal error', {});
}

export function errorHandler(err: unknown, req: FastifyRequest, reply: FastifyReply): void {
  const e = toIipError(err);
  if (e.code === 'IIP_ERR_INTERNAL') req.log.error({ err }, 'unhandled error');
  void reply.status(e.status).send(e.toJSON());
}
