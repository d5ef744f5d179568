/**
 * @iip/device-access — how devices reach the platform: the embedded MQTT broker with per-device
 * authentication and topic ACL, HTTP ingest, and the telemetry admission gate both share. Protocol drivers
 * (Modbus, OPC UA) join here behind one driver interface; the platform process imports `@iip/device-access/platform`,
 * which leaves them out.
 */
export * from './platform.js';
export * from './drivers/create-driver.js';
export * from './drivers/modbus/index.js';
export * from './drivers/opcua/index.js';
