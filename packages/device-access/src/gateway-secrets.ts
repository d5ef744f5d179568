/**
 * The secrets of a gateway configuration — an OPC UA channel's username/password identity — are write-only on
 * the platform: a configuration stored without a password keeps the one its channel had in the previous version
 * (so a configuration read back and sent again does not wipe it), and every configuration the API shows carries
 * `passwordSet: true` instead of the password. Only the copy pushed to the gateway holds it (the gateway needs it).
 */
import { type ChannelConfig, type GatewayConfig, IipError, type OpcUaUserIdentity } from '@iip/core';

type UsernameIdentity = Extract<OpcUaUserIdentity, { type: 'username' }>;

function usernameIdentity(ch: ChannelConfig | undefined): UsernameIdentity | undefined {
  return ch?.protocol === 'opcua' && ch.identity?.type === 'username' ? ch.identity : undefined;
}

/**
 * The configuration as stored: each username identity with its password — the one given, or else the one of the
 * channel with the same id in `previous` — and without `passwordSet` (a read-back marker, not stored). Throws
 * IIP_ERR_GATEWAY_CONFIG_INVALID naming `channels[i].identity.password` when there is no password to keep.
 */
export function keepGatewayPasswords(config: GatewayConfig, previous: GatewayConfig | undefined): GatewayConfig {
  let changed = false;
  const channels = config.channels.map((ch, i): ChannelConfig => {
    const id = usernameIdentity(ch);
    if (!id || ch.protocol !== 'opcua') return ch;
    let password = id.password;
    if (typeof password !== 'string') {
      password = usernameIdentity(previous?.channels.find((p) => p.id === ch.id))?.password;
      if (typeof password !== 'string') {
        const path = `channels[${i}].identity.password`;
        throw new IipError(
          'IIP_ERR_GATEWAY_CONFIG_INVALID',
          `${path}: is required — channel "${ch.id}" had no password in the previous version to keep (a password is sent once and never shown again)`,
          { path },
        );
      }
    }
    changed = true;
    return { ...ch, identity: { type: 'username', username: id.username, password } };
  });
  return changed ? { ...config, channels } : config;
}

/** The configuration as the API shows it: every username identity's password replaced by `passwordSet`. */
export function redactGatewayConfig(config: GatewayConfig): GatewayConfig {
  if (!config.channels.some((ch) => usernameIdentity(ch))) return config;
  return {
    ...config,
    channels: config.channels.map((ch): ChannelConfig => {
      const id = usernameIdentity(ch);
      if (!id || ch.protocol !== 'opcua') return ch;
      return { ...ch, identity: { type: 'username', username: id.username, passwordSet: typeof id.password === 'string' } };
    }),
  };
}
