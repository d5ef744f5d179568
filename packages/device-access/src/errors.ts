import { defineErrors } from '@iip/core';

export const DEVICE_ACCESS_ERRORS = defineErrors({
  IIP_ERR_DEVICE_UNKNOWN: {
    status: 401,
    meaning: 'No device with this id exists in the tenant.',
    fix: 'Create the device first (POST /api/v1/devices or `iip device create`), or check the `{tenant}/{device}` username.',
  },
  IIP_ERR_ACL_DENIED: {
    status: 403,
    meaning: "A device tried to publish or subscribe outside its own topic subtree `iip/{tenant}/{device}/...`.",
    fix: 'Publish telemetry to iip/{tenant}/{device}/telemetry with the credentials of that same device.',
  },
  IIP_ERR_TOPIC_UNKNOWN: {
    status: 400,
    meaning: "The topic is inside the device's subtree but is not one the platform handles.",
    fix: 'Use iip/{tenant}/{device}/telemetry or iip/{tenant}/{device}/events.',
  },
  IIP_ERR_PORT_IN_USE: {
    status: 500,
    meaning: 'A listener could not start because its port is already in use.',
    fix: 'Stop the other program or choose another port; the message names the flag and environment variable.',
  },
  IIP_ERR_DRIVER_CONNECT: {
    status: 502,
    meaning: 'A protocol driver cannot reach its peer (PLC, meter, OPC UA server).',
    fix: 'Check address, port or serial path, cabling and firewalls; the driver keeps retrying with backoff.',
  },
  IIP_ERR_DRIVER_TIMEOUT: {
    status: 504,
    meaning: 'A device did not answer a request within the channel timeout.',
    fix: 'Check that the device is powered and the unit id is right; raise timeoutMs for slow serial lines.',
  },
  IIP_ERR_DRIVER_NOT_WRITABLE: {
    status: 409,
    meaning: 'A write targeted a point that is read-only (in the thing model or in the protocol area).',
    fix: 'Write only properties with access "rw" bound to coils or holding registers (Modbus) or writable nodes (OPC UA).',
  },
  IIP_ERR_DRIVER_UNKNOWN_POINT: {
    status: 404,
    meaning: 'The device or property is not bound to any point of this driver.',
    fix: 'Add the point to the gateway configuration, or check the device and property ids.',
  },
  IIP_ERR_DRIVER_BAD_VALUE: {
    status: 502,
    meaning: 'A device answered, but one point held a value no thing model can hold (a float register with NaN or ±Infinity). The point is left out of that reading and reported in the driver health (pointFailures) and the gateway state; the other points are stored.',
    fix: 'Check the device: NaN usually marks a sensor fault or an unconfigured channel; details.raw and details.registers show what it sent.',
  },
  IIP_ERR_DRIVER_CONFIG: {
    status: 400,
    meaning: 'A channel, device or point configuration is invalid (overlapping addresses, bad type, length missing…).',
    fix: 'Correct the gateway configuration; details.path names the offending element.',
  },
  IIP_ERR_MODBUS_EXCEPTION: {
    status: 502,
    meaning: 'A Modbus device answered with an exception response; details.exceptionCode keeps the code (1 illegal function, 2 illegal data address, 3 illegal data value, 4 device failure, 6 busy, 11 gateway target failed…).',
    fix: 'Check the point map against the device manual (area, address, count); code 6 clears by itself.',
  },
  IIP_ERR_MODBUS_FRAME: {
    status: 502,
    meaning: 'A Modbus response was malformed (bad CRC, wrong length, wrong function or unit id).',
    fix: 'Check serial settings (baud, parity), wiring and terminators, or the gateway in front of the device.',
  },
  IIP_ERR_OPCUA_STATUS: {
    status: 502,
    meaning: 'An OPC UA operation returned a bad status code; details.statusCode names it.',
    fix: 'Check the node id, access rights and security settings on the OPC UA server.',
  },
  IIP_ERR_OPCUA_VALUE_UNSUPPORTED: {
    status: 502,
    meaning:
      'An OPC UA node holds a value with no stored kind: a structure (ExtensionObject) without a "field" on its point, a structure of a type the server does not describe, a nested Variant or DataValue, a DiagnosticInfo, or nothing (Null). The point yields no value and is listed in the device health (pointFailures) with the reason; the other points are stored.',
    fix: 'Bind one field of a structure per point with "field" (details.fields lists them), or bind another node; docs/reference/opcua.md lists how every built-in type is stored.',
  },
  IIP_ERR_DRIVER_UNSAFE_INTEGER: {
    status: 502,
    meaning: 'A 64-bit integer point (an OPC UA Int64/UInt64 node, an unscaled Modbus int64/uint64) holds a value beyond ±(2^53 − 1), which a number cannot hold exactly; it is not stored rounded. The point is listed in the device health (pointFailures) with the exact value in details.value.',
    fix: 'OPC UA: set "valueAs": "string" on the point and bind it to a string property, so every digit is kept. Modbus: give the point a scale (an engineering value) or check the counter on the device.',
  },
  IIP_ERR_OPCUA_TRUST_MISMATCH: {
    status: 409,
    meaning: 'A request to trust a server certificate named a thumbprint this channel has not rejected (or it has rejected none); nothing was trusted.',
    fix: 'Read the rejected certificate from the gateway state (channels[].trust.certificate.thumbprint) and send that thumbprint.',
  },
  IIP_ERR_GATEWAY_CONFIG_INVALID: {
    status: 400,
    meaning: 'A gateway configuration is malformed or names a device that does not exist or belongs to another gateway.',
    fix: 'Correct the configuration; details.path names the offending element.',
  },
  IIP_ERR_PROPERTY_READ_ONLY: {
    status: 409,
    meaning: "A write targeted a property whose thing-model access is read-only ('r').",
    fix: "Write only properties declared with access 'rw' in the product's thing model.",
  },
  IIP_ERR_TELEMETRY_NOT_COMMITTED: {
    status: 503,
    meaning: 'Valid telemetry could not be committed, so it was not acknowledged: under QoS 1 the broker closes the connection and the device or gateway sends it again; a QoS 0 reading is lost (reported on the errors topic).',
    fix: 'Check the platform log and the data directory (disk full, file permissions); nothing is lost while the device keeps unacknowledged messages (QoS 1) or the gateway its buffer.',
  },
  IIP_ERR_SERVICE_UNKNOWN: {
    status: 404,
    meaning: "A service call named a service that is not in the device's thing model.",
    fix: "Call one of the services of the device's product (GET /api/v1/products/{id}).",
  },
  IIP_ERR_SERVICE_NOT_BOUND: {
    status: 409,
    meaning: "The device's gateway configuration has no binding that says which point writes carry out the service.",
    fix: 'Add {"device", "service", "writes": [{"property", "value" | "input"}]} to "services" of the gateway configuration.',
  },
  IIP_ERR_SERVICE_INPUT_INVALID: {
    status: 400,
    meaning: 'A service input is unknown, missing while required, of the wrong type or out of range, or does not fit the property it is written to; details.input names it.',
    fix: "Send inputs as the service's thing-model inputs declare them.",
  },
  IIP_ERR_WRITE_NO_ROUTE: {
    status: 409,
    meaning: 'The device is not bound to any edge gateway, so a write cannot be delivered.',
    fix: "Add the device to a gateway's configuration (PUT /api/v1/gateways/{id}/config).",
  },
  IIP_ERR_COMMAND_TIMEOUT: {
    status: 504,
    meaning:
      'Outcome unknown: the gateway did not answer a command before its expiry (offline, or the device is slow), so it may or may not have been carried out (details.outcome "unknown"; details.sent false means it never left the platform). The gateway refuses it after details.expiresAt, and a later answer is recorded in the audit log as "<action>.late-result".',
    fix: 'Check the gateway health (GET /api/v1/gateways/{id}) and the audit log for details.requestId before retrying: the write may have happened.',
  },
  IIP_ERR_COMMAND_EXPIRED: {
    status: 504,
    meaning: 'The gateway received the command after its expiry (details.expiresAt) and refused it without touching the device: it was not carried out (details.outcome "expired").',
    fix: 'Retry once the gateway is connected (GET /api/v1/gateways/{id} shows online); check that the gateway and platform clocks agree (NTP), since the expiry is an absolute time.',
  },
  IIP_ERR_COMMAND_FAILED: {
    status: 502,
    meaning: "The gateway tried the command and the device refused it; details.error keeps the gateway's error (e.g. a Modbus exception).",
    fix: 'See details.error.code and its entry in this table.',
  },
});

