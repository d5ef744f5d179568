/** Issue 11, point 4: which engines and roles `iip up` accepts, and the refusals (IIP_ERR_TOPOLOGY) naming why. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type PlatformRole, resolveTopology } from '@iip/server';

const refused = (re: RegExp) => (e: unknown) => {
  const err = e as { code?: string; message?: string };
  assert.equal(err.code, 'IIP_ERR_TOPOLOGY', String(e));
  assert.match(err.message ?? '', re);
  return true;
};

describe('issue 11: the platform topology', () => {
  it('embedded by default: every role, the SQLite file under --data, the in-process bus', () => {
    const t = resolveTopology({ dataDir: '/var/lib/iip' });
    assert.deepEqual([...t.roles].sort(), ['front-door', 'worker']);
    assert.equal(t.storage, '/var/lib/iip/iip.db');
    assert.equal(t.postgres, false);
    assert.equal(t.scaledOut, false);
  });

  it('scaled out: PostgreSQL and NATS, any subset of roles', () => {
    const t = resolveTopology({ dataDir: '/d', storage: 'postgres://iip@db:5432/iip', bus: 'nats://a:4222,nats://b:4222', roles: ['worker'] });
    assert.deepEqual([...t.roles], ['worker']);
    assert.equal(t.postgres, true);
    assert.equal(t.scaledOut, true);
  });

  it('refuses a role split without a shared PostgreSQL and NATS, naming what is missing', () => {
    assert.throws(() => resolveTopology({ dataDir: '/d', roles: ['front-door'] }), refused(/--storage postgres:\/\/… and --bus nats:\/\//));
    assert.throws(() => resolveTopology({ dataDir: '/d', storage: 'postgres://db/iip', roles: ['worker'] }), refused(/--bus nats/));
  });

  it('refuses NATS with the SQLite file, a bus URL that is not nats://, and an unknown role', () => {
    assert.throws(() => resolveTopology({ dataDir: '/d', bus: 'nats://127.0.0.1:4222' }), refused(/PostgreSQL/));
    assert.throws(() => resolveTopology({ dataDir: '/d', storage: 'postgres://db/iip', bus: 'redis://x' }), refused(/nats:\/\/host:port/));
    assert.throws(() => resolveTopology({ dataDir: '/d', roles: ['historian' as PlatformRole] }), refused(/unknown role "historian"/));
  });
});
