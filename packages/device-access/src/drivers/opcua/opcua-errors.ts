/**
 * Turns OPC UA status codes and node-opcua connection errors into the platform's typed errors, so a
 * caller can tell "this node refuses writes" from "the server does not trust our certificate" from
 * "the server is down" by `code`, with the OPC UA status name kept in `details.statusCode`.
 */
import { IipError } from '@iip/core';
import type { StatusCode } from 'node-opcua';

/** Status codes that mean "you may not write here" rather than "something broke". */
const NOT_WRITABLE = new Set(['BadNotWritable', 'BadUserAccessDenied', 'BadWriteNotSupported']);

export function statusError(status: StatusCode, operation: string, where: Record<string, unknown>): IipError {
  const details = { ...where, statusCode: status.name, statusCodeValue: status.value, operation };
  const target = where.device !== undefined ? ` ${String(where.device)}.${String(where.property ?? '')}` : '';
  if (operation === 'write' && NOT_WRITABLE.has(status.name)) {
    return new IipError('IIP_ERR_DRIVER_NOT_WRITABLE', `OPC UA server refused the write to${target}: ${status.name}`, details);
  }
  return new IipError('IIP_ERR_OPCUA_STATUS', `OPC UA ${operation} of${target} failed: ${status.name} (${status.description})`, details);
}

const STATUS_IN_MESSAGE = /\b(Bad[A-Za-z]+)\b/;

/**
 * A failed connect: certificate trouble becomes IIP_ERR_OPCUA_STATUS naming the status and how to trust
 * the peer; everything else (refused, timed out, unknown host) IIP_ERR_DRIVER_CONNECT.
 */
export function connectError(err: unknown, ctx: { endpointUrl: string; securityMode: string; pkiDir: string; certificateFile: string }): IipError {
  const message = err instanceof Error ? err.message : String(err);
  const status = STATUS_IN_MESSAGE.exec(message)?.[1];
  if (/ECONNREFUSED|ETIMEDOUT|ENOTFOUND|EHOSTUNREACH|ENETUNREACH|EAI_AGAIN/.test(message)) {
    return new IipError('IIP_ERR_DRIVER_CONNECT', `cannot reach the OPC UA server ${ctx.endpointUrl}: ${message}`, { ...ctx, cause: message });
  }
  if (/server Certificate verification failed/i.test(message)) {
    return new IipError(
      'IIP_ERR_OPCUA_STATUS',
      `this client does not trust the certificate of ${ctx.endpointUrl} (${status ?? 'BadCertificateUntrusted'}); ` +
        `trust it from the platform (gateway page, or POST …/channels/{channel}/trust-server-certificate) or copy the server certificate into ${ctx.pkiDir}/trusted/certs`,
      { ...ctx, statusCode: status ?? 'BadCertificateUntrusted', cause: message, trust: 'server-untrusted' },
    );
  }
  if (ctx.securityMode !== 'None' && (status === undefined || /Security|Certificate/.test(status) || /closed|disconnected|ECONNRESET/i.test(message))) {
    // servers deliberately answer an untrusted client with a bare BadSecurityChecksFailed or a dropped socket
    return new IipError(
      'IIP_ERR_OPCUA_STATUS',
      `${ctx.endpointUrl} rejected the secure channel (${status ?? 'BadSecurityChecksFailed'}); ` +
        `the server probably does not trust this client: add ${ctx.certificateFile} to the server's trusted certificates`,
      { ...ctx, statusCode: status ?? 'BadSecurityChecksFailed', cause: message, trust: 'client-untrusted' },
    );
  }
  if (status !== undefined) {
    return new IipError('IIP_ERR_OPCUA_STATUS', `cannot open an OPC UA session with ${ctx.endpointUrl}: ${status}`, { ...ctx, statusCode: status, cause: message });
  }
  return new IipError('IIP_ERR_DRIVER_CONNECT', `cannot reach the OPC UA server ${ctx.endpointUrl}: ${message}`, { ...ctx, cause: message });
}
