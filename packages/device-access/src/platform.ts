/**
 * @iip/device-access/platform — what the platform process needs of device access: the MQTT server, HTTP ingest,
 * admission, the gateway manager and channel validation, without the protocol drivers themselves. The drivers run
 * in edge gateways; node-opcua alone is ~90 MB of a process's memory, which a platform serving ten thousand
 * devices should not carry for nothing (issue 20). The full package (`@iip/device-access`) is this plus the drivers.
 */
export * from './errors.js';
export * from './directory.js';
export * from './admission.js';
export * from './event-admission.js';
export * from './mqtt-broker.js';
export * from './mqtt-client-id.js';
export * from './mqtt-conformance.js';
export * from './mqtt-frame-guard.js';
export * from './mqtt-limits.js';
export * from './mqtt/front-door.js';
export * from './mqtt/topic-filter.js';
export * from './http-ingest.js';
export * from './gateway-manager.js';
export * from './device-routing.js';
export * from './drivers/validate-channel.js';
export * from './gateway-secrets.js';
