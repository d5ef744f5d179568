/**
 * The MQTT topics between a gateway and the platform, in one place so both ends of the contract are easy to
 * compare with docs/reference/edge-gateway.md. The gateway is the device `{tenant}/{gatewayId}`; its child
 * devices publish through it under `devices/{deviceId}/...`.
 */
export interface GatewayTopics {
  readonly prefix: string;
  telemetry(device: string): string;
  events(device: string): string;
  readonly errors: string;
  readonly config: string;
  /** The platform's rules that run here (retained; issue 13): `{version, rules: [{rule, model, devices}]}`. */
  readonly rules: string;
  readonly state: string;
  /** Subscription filter for commands; the last level is the request id. */
  readonly commands: string;
  commandResult(requestId: string): string;
  /** The request id of a command topic, or null when the topic is not a command. */
  commandId(topic: string): string | null;
}

export function gatewayTopics(tenant: string, gatewayId: string): GatewayTopics {
  const prefix = `iip/${tenant}/${gatewayId}/`;
  return {
    prefix,
    telemetry: (device) => `${prefix}devices/${device}/telemetry`,
    events: (device) => `${prefix}devices/${device}/events`,
    errors: `${prefix}errors`,
    config: `${prefix}config`,
    rules: `${prefix}rules`,
    state: `${prefix}state`,
    commands: `${prefix}commands/+`,
    commandResult: (id) => `${prefix}command-results/${id}`,
    commandId: (topic) => {
      const p = `${prefix}commands/`;
      if (!topic.startsWith(p)) return null;
      const id = topic.slice(p.length);
      return id.length > 0 && !id.includes('/') ? id : null;
    },
  };
}
