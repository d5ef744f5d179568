/**
 * The edge gateway's error codes: a bad gateway.yaml, a buffer that cannot be opened, and commands from the
 * platform that cannot be carried out. Registered through `defineErrors` so docs/reference/errors.md lists them.
 */
import { defineErrors } from '@iip/core';

export const EDGE_ERRORS = defineErrors({
  IIP_ERR_EDGE_CONFIG_FILE: {
    status: 400,
    meaning: 'The gateway configuration file cannot be read or is not valid YAML.',
    fix: 'Check the path given to `iip edge --config` and the YAML syntax; details.path and details.line say where.',
  },
  IIP_ERR_EDGE_CONFIG_INVALID: {
    status: 400,
    meaning: 'A field of the gateway configuration file is missing or has the wrong type or value.',
    fix: 'Correct the field named in details.field; see docs/reference/edge-gateway.md for the gateway.yaml reference.',
  },
  IIP_ERR_EDGE_BUFFER: {
    status: 500,
    meaning: "The gateway's disk buffer cannot be opened or written (directory missing, not writable, disk full, corrupt file).",
    fix: 'Check dataDir: it must be a writable directory on a disk with free space; details.path names the file.',
  },
  IIP_ERR_EDGE_COMMAND_INVALID: {
    status: 400,
    meaning: 'A command sent to the gateway is not valid JSON or not of a known shape.',
    fix: 'Send {"type": "write", "device", "property", "value", "expiresAt"}, {"type": "writes", "device", "writes": [{"property", "value"}], "expiresAt"} or {"type": "trust-server-certificate", "channel", "thumbprint" (40 hex digits), "expiresAt"} to iip/{tenant}/{gateway}/commands/{requestId}; expiresAt is ms since the epoch.',
  },
  IIP_ERR_EDGE_COMMAND_EXPIRED: {
    status: 504,
    meaning: 'A command reached the gateway after its expiresAt (queued while the gateway was offline, or delayed); the gateway refused it without touching the device.',
    fix: 'Send it again if it is still wanted; keep the gateway clock in step with the platform (NTP), since expiresAt is an absolute time.',
  },
  IIP_ERR_EDGE_DEVICE_UNKNOWN: {
    status: 404,
    meaning: "A command names a device that no channel of the gateway's applied configuration owns.",
    fix: 'Add the device to a channel of the gateway configuration, or wait until the gateway reports the new version.',
  },
  IIP_ERR_EDGE_CHANNEL_UNKNOWN: {
    status: 404,
    meaning: "A command names a channel that is not in the gateway's applied configuration; details.channels lists the ones it runs.",
    fix: 'Use a channel id of the configuration the gateway reports (GET /api/v1/gateways/{id}, reported.state.channels), or wait until it applies the new version.',
  },
  IIP_ERR_EDGE_TRUST_UNSUPPORTED: {
    status: 409,
    meaning: "A certificate was to be trusted on a channel whose driver has no certificates (e.g. Modbus) or that has no driver because it failed to start.",
    fix: 'Trust server certificates only on OPC UA channels that report trust.kind "server-untrusted"; fix a failed channel\'s configuration first.',
  },
});
