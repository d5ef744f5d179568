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
});
