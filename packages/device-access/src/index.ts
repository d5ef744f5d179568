/**
 * @iip/device-access — how devices reach the platform: the embedded MQTT broker with per-device
 * authentication and topic ACL, HTTP ingest, and the telemetry admission gate both share. Protocol drivers
 * (Modbus, OPC UA) join here behind one driver interface.
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
export * from './drivers/create-driver.js';
export * from './drivers/validate-channel.js';
export * from './drivers/modbus/index.js';
export * from './drivers/opcua/index.js';
export * from './gateway-secrets.js';
