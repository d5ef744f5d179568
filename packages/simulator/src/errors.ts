/**
 * The simulator's error contract: every failure it reports carries a stable IIP_ERR_SIM_* code, so the
 * `iip simulate` command and benchmarks can tell a wrong secret from an unreachable broker from a typo.
 */
import { defineErrors } from '@iip/core';

export const SIMULATOR_ERRORS = defineErrors({
  IIP_ERR_SIM_CONNECT_REFUSED: {
    status: 502,
    meaning: 'The MQTT broker refused a simulated device (CONNACK with a non-zero reason code).',
    fix: 'Check the device id, the tenant and the device secret; the username must be "{tenant}/{device}".',
  },
  IIP_ERR_SIM_CONNECT_FAILED: {
    status: 502,
    meaning: 'A simulated device could not reach the MQTT broker (network error or no CONNACK in time).',
    fix: 'Check the MQTT URL (host, port, mqtt:// or mqtts://) and that the platform is running.',
  },
  IIP_ERR_SIM_UNKNOWN_PRODUCT: {
    status: 400,
    meaning: 'A simulated device names a product the virtual factory does not know.',
    fix: 'Use one of the product ids returned by factoryProducts().',
  },
  IIP_ERR_SIM_UNKNOWN_DEVICE: {
    status: 404,
    meaning: 'The device id is not one of the devices this virtual factory runs.',
    fix: 'Pass the id of a device given to the VirtualFactory constructor.',
  },
  IIP_ERR_SIM_BAD_OPTION: {
    status: 400,
    meaning: 'An option passed to the simulator or the load driver is out of range.',
    fix: 'Correct the option named in the message.',
  },
  IIP_ERR_SIM_PUBLISH_FAILED: {
    status: 502,
    meaning: 'The load driver could not publish a message (connection lost or the broker rejected it).',
    fix: 'Check the broker logs and the device topic ACL; rerun with a smaller in-flight window.',
  },
});
