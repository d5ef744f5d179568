/**
 * @iip/identifiers — 标识解析: a Handle-protocol node (RFC 3650–3652, protocol 2.10) that can serve as a
 * top-level, secondary or enterprise node of the industrial-internet identifier system: data model, binary
 * codec, UDP/TCP/HTTP servers, HS_ADMIN authorisation, recursive resolver, replication and data templates.
 */
export * from './model/handle-value.js';
export * from './model/handle-name.js';
export * from './model/response-codes.js';
export * from './model/handle-error.js';
export * from './model/handle-service.js';
export * from './model/admin-data.js';
export * from './rest/value-json.js';
export * from './rest/basic-auth.js';
export * from './rest/handle-routes.js';
export * from './rest/template-routes.js';
export * from './rest/replication-routes.js';
export * from './rest/rest-app.js';
export * from './resolver/resolution-cache.js';
export * from './resolver/recursive-resolver.js';
export * from './protocol/message-types.js';
export { encodeMessage, decodeMessage, decodeEnvelope, messageSize, digestedBytes, type DecodedEnvelope } from './protocol/message-codec.js';
export { encodeHandleValue, decodeHandleValue } from './protocol/handle-value-codec.js';
export * from './protocol/site-info-codec.js';
export { signChallenge, verifyChallengeAnswer, requestDigest } from './protocol/secret-key-auth.js';
export { RESPONSE_VALIDITY_SECONDS, responseExpiration, responseFlags } from './protocol/response-header.js';
export * from './protocol/public-key-codec.js';
export * from './protocol/public-key-auth.js';
export * from './protocol/message-credential.js';
export * from './protocol/session-codec.js';
export * from './protocol/session-crypto.js';
export * from './transport/session-table.js';
export * from './transport/session-layer.js';
export * from './transport/handle-session.js';
export * from './transport/protocol-server.js';
export * from './transport/handle-client.js';
export * from './service/local-handle-service.js';
export * from './service/value-validation.js';
export * from './service/admin-authority.js';
export * from './templates/data-template.js';
export * from './replication/change-json.js';
export * from './replication/transaction-log-source.js';
export * from './replication/mirror.js';
export * from './resolver/client-upstream.js';
export * from './resolver/resolver-service.js';
export * from './node/handle-node.js';
export * from './node/register-prefix.js';
export * from './service/public-answers.js';
export * from './node/heap-tuning.js';
