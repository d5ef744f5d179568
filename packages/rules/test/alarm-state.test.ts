/**
 * The alarm lifecycle (issue 13): the ISA-18.2 transition table, the refusals with their codes, shelving (timed
 * expiry, one-shot ending on return to normal, the maximum), suppression and out of service hiding an alarm without
 * losing its state, and a property test against an independent reference model written as a plain state table.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { IipError } from '@iip/core';
import {
  type AlarmEvent,
  type AlarmState,
  type AlarmTransition,
  DEFAULT_MAX_SHELVE_MS,
  type IsaState,
  apply,
  initialAlarmState,
  isaState,
  needsAck,
  opcUaState,
} from '@iip/rules';
import fc from 'fast-check';

const T0 = Date.UTC(2026, 11, 8, 6, 0);
const MIN = 60_000;
const HOUR = 60 * MIN;
const user = 'wang.li';

const activate: AlarmEvent = { type: 'activate' };
const clear: AlarmEvent = { type: 'clear' };
const ack: AlarmEvent = { type: 'ack', user, comment: 'seen, pump B started' };
const tick: AlarmEvent = { type: 'tick' };
const oneShot: AlarmEvent = { type: 'shelve', kind: 'one-shot', user };
const timed = (durationMs: number): AlarmEvent => ({ type: 'shelve', kind: 'timed', durationMs, user });
const unshelve: AlarmEvent = { type: 'unshelve', user };
const suppress: AlarmEvent = { type: 'suppress' };
const unsuppress: AlarmEvent = { type: 'unsuppress' };
const removeFromService: AlarmEvent = { type: 'remove-from-service', user };
const returnToService: AlarmEvent = { type: 'return-to-service', user };

/** Applies events one minute apart from T0; returns the last transition. */
function run(events: readonly AlarmEvent[], opts: { latching?: boolean; from?: AlarmState; at?: number } = {}): AlarmTransition {
  let t: AlarmTransition = { state: opts.from ?? initialAlarmState({ latching: opts.latching }, T0), changed: false, notify: false };
  let now = opts.at ?? T0;
  for (const e of events) {
    now += MIN;
    t = apply(t.state, e, now);
  }
  return t;
}

function refused(fn: () => unknown, code: string): IipError {
  let caught: unknown;
  assert.throws(fn, (e: unknown) => {
    caught = e;
    return e instanceof IipError && e.code === code;
  });
  return caught as IipError;
}

const setups: Record<'normal' | 'unacked' | 'acked' | 'rtn-unacked' | 'latched', { events: AlarmEvent[]; latching: boolean }> = {
  normal: { events: [], latching: false },
  unacked: { events: [activate], latching: false },
  acked: { events: [activate, ack], latching: false },
  'rtn-unacked': { events: [activate, clear], latching: false },
  latched: { events: [activate, clear], latching: true },
};

describe('alarm lifecycle: the ISA-18.2 process states', () => {
  for (const [name, s] of Object.entries(setups)) {
    test(`the setup for ${name} reaches ${name}`, () => {
      assert.equal(isaState(run(s.events, { latching: s.latching }).state), name);
    });
  }

  const table: [from: keyof typeof setups, event: AlarmEvent, to: IsaState, notify: boolean, changed: boolean][] = [
    ['normal', activate, 'unacked', true, true],
    ['normal', clear, 'normal', false, false],
    ['unacked', activate, 'unacked', false, false],
    ['unacked', ack, 'acked', false, true],
    ['unacked', clear, 'rtn-unacked', false, true],
    ['acked', activate, 'acked', false, false],
    ['acked', clear, 'normal', false, true],
    ['rtn-unacked', ack, 'normal', false, true],
    ['rtn-unacked', activate, 'unacked', true, true],
    ['rtn-unacked', clear, 'rtn-unacked', false, false],
    ['latched', ack, 'normal', false, true],
    ['latched', activate, 'unacked', true, true],
    ['latched', clear, 'latched', false, false],
  ];
  for (const [from, event, to, notify, changed] of table) {
    test(`${from} + ${event.type} → ${to}${notify ? ' (annunciated)' : ''}`, () => {
      const s = setups[from];
      const before = run(s.events, { latching: s.latching }).state;
      const t = apply(before, event, T0 + HOUR);
      assert.equal(isaState(t.state), to);
      assert.equal(t.notify, notify);
      assert.equal(t.changed, changed);
      if (changed) assert.equal(t.state.lastChange, T0 + HOUR);
      else assert.equal(t.state, before, 'an event that changes nothing returns the same state');
    });
  }

  test('a latching alarm acknowledged while active goes to normal when it clears (the latch holds only an unseen activation)', () => {
    const t = run([activate, ack, clear], { latching: true });
    assert.equal(isaState(t.state), 'normal');
    assert.equal(t.state.latched, false);
  });

  test('a latching alarm: latched is its own state, not rtn-unacked; acknowledging it resets the latch', () => {
    const latched = run([activate, clear], { latching: true }).state;
    assert.deepEqual([latched.active, latched.acked, latched.latched], [false, false, true]);
    assert.equal(opcUaState(latched).LatchedState, true);
    const rtn = run([activate, clear]).state;
    assert.deepEqual([rtn.active, rtn.acked, rtn.latched], [false, false, false]);
    assert.equal(apply(latched, ack, T0 + HOUR).state.latched, false);
  });

  test('activation records activeSince and counts activations; clear resets activeSince', () => {
    const a = run([activate]).state;
    assert.equal(a.activeSince, T0 + MIN);
    assert.equal(a.activations, 1);
    const b = run([activate, ack, clear, activate]).state;
    assert.equal(b.activeSince, T0 + 4 * MIN);
    assert.equal(b.activations, 2);
    assert.equal(run([activate, clear]).state.activeSince, null);
  });

  test('an acknowledgement records who, when and the comment', () => {
    const s = run([activate, ack]).state;
    assert.deepEqual(s.lastAction, { type: 'ack', user, at: T0 + 2 * MIN, comment: 'seen, pump B started' });
    assert.equal(needsAck(s), false);
    assert.equal(needsAck(run([activate]).state), true);
  });
});

describe('alarm lifecycle: refused operator actions carry catalogued codes', () => {
  test('acknowledging an alarm that needs no acknowledgement', () => {
    const e1 = refused(() => run([ack]), 'IIP_ERR_ALARM_NOT_ACKABLE');
    assert.equal(e1.status, 409);
    assert.equal(e1.details.state, 'normal');
    const e2 = refused(() => run([activate, ack, ack]), 'IIP_ERR_ALARM_NOT_ACKABLE');
    assert.equal(e2.details.state, 'acked');
  });

  test('one-shot shelving of an alarm that is not active, or already one-shot shelved', () => {
    refused(() => run([oneShot]), 'IIP_ERR_ALARM_NOT_ACTIVE');
    refused(() => run([activate, clear, oneShot]), 'IIP_ERR_ALARM_NOT_ACTIVE');
    refused(() => run([activate, oneShot, oneShot]), 'IIP_ERR_ALARM_ALREADY_SHELVED');
  });

  test('unshelving an alarm that is not shelved', () => {
    refused(() => run([unshelve]), 'IIP_ERR_ALARM_NOT_SHELVED');
    refused(() => run([timed(5 * MIN), tick, tick, tick, tick, tick, unshelve]), 'IIP_ERR_ALARM_NOT_SHELVED');
  });

  test('shelving durations that are not positive or exceed the maximum', () => {
    for (const d of [0, -MIN, Number.NaN, Number.POSITIVE_INFINITY, DEFAULT_MAX_SHELVE_MS + 1]) {
      const e = refused(() => run([timed(d)]), 'IIP_ERR_ALARM_SHELVE_DURATION');
      assert.equal(e.status, 422);
      assert.equal(e.details.maxMs, DEFAULT_MAX_SHELVE_MS);
    }
    assert.equal(isaState(run([timed(DEFAULT_MAX_SHELVE_MS)]).state), 'shelved');
    const s = initialAlarmState({}, T0);
    refused(() => apply(s, timed(2 * HOUR), T0, { maxShelveMs: HOUR }), 'IIP_ERR_ALARM_SHELVE_DURATION');
    assert.equal(isaState(apply(s, timed(HOUR), T0, { maxShelveMs: HOUR }).state), 'shelved');
  });

  test('out of service: no shelving, no second removal; returning an alarm in service', () => {
    refused(() => run([removeFromService, timed(HOUR)]), 'IIP_ERR_ALARM_OUT_OF_SERVICE');
    refused(() => run([activate, removeFromService, oneShot]), 'IIP_ERR_ALARM_OUT_OF_SERVICE');
    refused(() => run([removeFromService, removeFromService]), 'IIP_ERR_ALARM_OUT_OF_SERVICE');
    refused(() => run([returnToService]), 'IIP_ERR_ALARM_IN_SERVICE');
  });

  test('an operator action without a user', () => {
    refused(() => run([activate, { type: 'ack', user: '' }]), 'IIP_ERR_VALIDATION');
    refused(() => apply(initialAlarmState({}, T0), activate, Number.NaN), 'IIP_ERR_VALIDATION');
  });
});

describe('alarm lifecycle: shelving', () => {
  test('timed shelving ends at `until` on a tick; an active unacknowledged alarm is then annunciated', () => {
    const shelved = run([timed(30 * MIN), activate]).state; // shelved at T0+1min until T0+31min, active at T0+2min
    assert.equal(isaState(shelved), 'shelved');
    assert.deepEqual(shelved.shelving, { kind: 'timed', until: T0 + 31 * MIN, user, since: T0 + MIN });
    const early = apply(shelved, tick, T0 + 31 * MIN - 1);
    assert.equal(early.changed, false);
    const due = apply(shelved, tick, T0 + 31 * MIN);
    assert.equal(due.changed, true);
    assert.equal(isaState(due.state), 'unacked');
    assert.equal(due.notify, true);
  });

  test('an expired timed shelving ends before any event, not only a tick', () => {
    const shelved = run([timed(10 * MIN)]).state;
    const t = apply(shelved, activate, T0 + HOUR);
    assert.equal(t.state.shelving.kind, 'unshelved');
    assert.equal(isaState(t.state), 'unacked');
    assert.equal(t.notify, true);
  });

  test('a shelved alarm tracks active without annunciating; unshelving shows and annunciates it', () => {
    const a = run([timed(HOUR), activate]);
    assert.equal(a.notify, false);
    assert.equal(a.state.active, true);
    const b = apply(a.state, unshelve, T0 + 10 * MIN);
    assert.equal(isaState(b.state), 'unacked');
    assert.equal(b.notify, true);
    assert.equal(b.state.lastAction?.type, 'unshelve');
  });

  test('unshelving an alarm acknowledged before it was shelved shows it acknowledged, without annunciation', () => {
    const t = run([activate, ack, timed(HOUR), unshelve]);
    assert.equal(isaState(t.state), 'acked');
    assert.equal(t.notify, false);
  });

  test('a return to normal while shelved needs no acknowledgement', () => {
    const t = run([activate, timed(HOUR), clear, unshelve]);
    assert.equal(isaState(t.state), 'normal');
  });

  test('one-shot shelving ends when the alarm returns to normal; the next activation is annunciated', () => {
    const shelved = run([activate, oneShot]);
    assert.equal(isaState(shelved.state), 'shelved');
    assert.equal(opcUaState(shelved.state).ShelvingState, 'OneShotShelved');
    const cleared = apply(shelved.state, clear, T0 + HOUR);
    assert.equal(cleared.state.shelving.kind, 'unshelved');
    assert.equal(isaState(cleared.state), 'normal');
    assert.equal(cleared.notify, false);
    const again = apply(cleared.state, activate, T0 + 2 * HOUR);
    assert.equal(isaState(again.state), 'unacked');
    assert.equal(again.notify, true);
  });

  test('one-shot shelving of a latching alarm ends on return to normal without latching', () => {
    const t = run([activate, oneShot, clear], { latching: true });
    assert.equal(isaState(t.state), 'normal');
    assert.equal(t.state.latched, false);
  });

  test('a shelved alarm changes between one-shot and timed; timed shelving again restarts the time', () => {
    const a = run([activate, oneShot, timed(HOUR)]).state;
    assert.equal(opcUaState(a).ShelvingState, 'TimedShelved');
    const b = run([activate, timed(HOUR), oneShot]).state;
    assert.equal(b.shelving.kind, 'one-shot');
    const c = run([timed(HOUR), timed(2 * HOUR)]).state;
    assert.equal(c.shelving.kind === 'timed' && c.shelving.until, T0 + 2 * MIN + 2 * HOUR);
  });

  test('an alarm that is normal can be timed-shelved (a chattering alarm); it stays quiet through activations', () => {
    const t = run([timed(HOUR), activate, clear, activate]);
    assert.equal(t.notify, false);
    assert.equal(isaState(t.state), 'shelved');
    assert.equal(t.state.activations, 2);
  });
});

describe('alarm lifecycle: suppression by design and out of service', () => {
  test('suppressed while active: not annunciated; released still active, it shows unacked and is annunciated', () => {
    const a = run([activate, suppress]);
    assert.equal(isaState(a.state), 'suppressed');
    const b = apply(a.state, activate, T0 + HOUR);
    assert.equal(b.changed, false);
    const c = apply(a.state, unsuppress, T0 + HOUR);
    assert.equal(isaState(c.state), 'unacked');
    assert.equal(c.notify, true);
  });

  test('activated while suppressed: not annunciated; released while active, it shows unacked', () => {
    const a = run([suppress, activate]);
    assert.equal(a.notify, false);
    assert.equal(a.state.active, true);
    const b = apply(a.state, unsuppress, T0 + HOUR);
    assert.equal(isaState(b.state), 'unacked');
    assert.equal(b.notify, true);
  });

  test('returned to normal while suppressed: released, it is normal', () => {
    assert.equal(isaState(run([activate, suppress, clear, unsuppress]).state), 'normal');
    assert.equal(isaState(run([suppress, activate, clear, unsuppress], { latching: true }).state), 'normal');
  });

  test('acknowledged before suppression: released, it shows acked without annunciation', () => {
    const t = run([activate, ack, suppress, unsuppress]);
    assert.equal(isaState(t.state), 'acked');
    assert.equal(t.notify, false);
  });

  test('a latch survives suppression and shows again on release', () => {
    const t = run([activate, clear, suppress, unsuppress], { latching: true });
    assert.equal(isaState(t.state), 'latched');
  });

  test('suppress and unsuppress are idempotent', () => {
    const a = run([suppress]).state;
    assert.equal(apply(a, suppress, T0 + HOUR).changed, false);
    assert.equal(apply(initialAlarmState({}, T0), unsuppress, T0 + HOUR).changed, false);
  });

  test('out of service: tracks active silently; an acknowledgement is still accepted; back in service shows the state', () => {
    const a = run([removeFromService, activate]);
    assert.equal(isaState(a.state), 'out-of-service');
    assert.equal(a.notify, false);
    const back = apply(a.state, returnToService, T0 + HOUR);
    assert.equal(isaState(back.state), 'unacked');
    assert.equal(back.notify, true);
    assert.equal(back.state.lastAction?.type, 'return-to-service');
    const acked = run([removeFromService, activate, ack, returnToService]);
    assert.equal(isaState(acked.state), 'acked');
    assert.equal(acked.notify, false);
  });

  test('display precedence: out of service, then shelved, then suppressed', () => {
    const s = run([activate, suppress, timed(HOUR)]).state;
    assert.equal(isaState(s), 'shelved');
    assert.equal(isaState(apply(s, removeFromService, T0 + 10 * MIN).state), 'out-of-service');
    assert.deepEqual(opcUaState(s), {
      ActiveState: true,
      AckedState: false,
      LatchedState: false,
      ShelvingState: 'TimedShelved',
      SuppressedState: true,
      OutOfServiceState: false,
      SuppressedOrShelved: true,
    });
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Reference model: the same lifecycle written as an explicit state table over ISA-18.2's process states, with the
// hiding flags beside it. It shares no code with the implementation.

type P = 'normal' | 'unacked' | 'acked' | 'rtn-unacked' | 'latched';
interface Model {
  p: P;
  shelf: 'none' | 'timed' | 'one-shot';
  until: number;
  sup: boolean;
  oos: boolean;
}
const MAX = DEFAULT_MAX_SHELVE_MS;
const hiddenM = (m: Model): boolean => m.oos || m.sup || m.shelf !== 'none';
const displayM = (m: Model): IsaState => (m.oos ? 'out-of-service' : m.shelf !== 'none' ? 'shelved' : m.sup ? 'suppressed' : m.p);

/** Returns the next model and whether to annunciate, or the refusal code. */
function stepM(m0: Model, e: AlarmEvent, now: number, latching: boolean): { m: Model; notify: boolean } | { code: string } {
  const m: Model = m0.shelf === 'timed' && now >= m0.until ? { ...m0, shelf: 'none' } : { ...m0 };
  const wasHidden = hiddenM(m0);
  let activated = false;
  switch (e.type) {
    case 'tick':
      break;
    case 'activate':
      if (m.p === 'normal' || m.p === 'rtn-unacked' || m.p === 'latched') {
        m.p = 'unacked';
        activated = true;
      }
      break;
    case 'clear':
      if (m.p === 'acked') m.p = 'normal';
      else if (m.p === 'unacked') m.p = hiddenM(m) ? 'normal' : latching ? 'latched' : 'rtn-unacked';
      if ((m0.p === 'acked' || m0.p === 'unacked') && m.shelf === 'one-shot') m.shelf = 'none';
      break;
    case 'ack': {
      const next: Partial<Record<P, P>> = { unacked: 'acked', 'rtn-unacked': 'normal', latched: 'normal' };
      const to = next[m.p];
      if (!to) return { code: 'IIP_ERR_ALARM_NOT_ACKABLE' };
      m.p = to;
      break;
    }
    case 'shelve':
      if (m.oos) return { code: 'IIP_ERR_ALARM_OUT_OF_SERVICE' };
      if (e.kind === 'one-shot') {
        if (m.p !== 'unacked' && m.p !== 'acked') return { code: 'IIP_ERR_ALARM_NOT_ACTIVE' };
        if (m.shelf === 'one-shot') return { code: 'IIP_ERR_ALARM_ALREADY_SHELVED' };
        m.shelf = 'one-shot';
      } else {
        if (!(e.durationMs > 0 && e.durationMs <= MAX)) return { code: 'IIP_ERR_ALARM_SHELVE_DURATION' };
        m.shelf = 'timed';
        m.until = now + e.durationMs;
      }
      break;
    case 'unshelve':
      if (m.shelf === 'none') return { code: 'IIP_ERR_ALARM_NOT_SHELVED' };
      m.shelf = 'none';
      break;
    case 'suppress':
      m.sup = true;
      break;
    case 'unsuppress':
      m.sup = false;
      break;
    case 'remove-from-service':
      if (m.oos) return { code: 'IIP_ERR_ALARM_OUT_OF_SERVICE' };
      m.oos = true;
      break;
    case 'return-to-service':
      if (!m.oos) return { code: 'IIP_ERR_ALARM_IN_SERVICE' };
      m.oos = false;
      break;
  }
  const visible = !hiddenM(m);
  const notify = visible && (activated || (wasHidden && (m.p === 'unacked' || m.p === 'latched')));
  return { m, notify };
}

const eventArb: fc.Arbitrary<AlarmEvent> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom<AlarmEvent>(activate, clear, ack, tick) },
  {
    weight: 1,
    arbitrary: fc
      .constantFrom(-1, 0, MIN, 10 * MIN, HOUR, MAX, MAX + 1, Number.NaN)
      .map((durationMs): AlarmEvent => ({ type: 'shelve', kind: 'timed', durationMs, user })),
  },
  { weight: 1, arbitrary: fc.constantFrom<AlarmEvent>(oneShot, unshelve, suppress, unsuppress, removeFromService, returnToService) },
);
const stepArb = fc.record({ event: eventArb, dt: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 3 * HOUR })) });

describe('alarm lifecycle: property test against the reference model', () => {
  test('random event sequences agree with the model and keep the invariants', () => {
    fc.assert(
      fc.property(fc.boolean(), fc.array(stepArb, { maxLength: 60 }), (latching, steps) => {
        let s = initialAlarmState({ latching }, T0);
        let m: Model = { p: 'normal', shelf: 'none', until: 0, sup: false, oos: false };
        let now = T0;
        let activationsAtAck = -1;
        for (const { event, dt } of steps) {
          now += dt;
          const want = stepM(m, event, now, latching);
          let got: AlarmTransition | undefined;
          let code: string | undefined;
          try {
            got = apply(s, event, now);
          } catch (e) {
            if (!(e instanceof IipError)) throw e;
            code = e.code;
          }
          if ('code' in want) {
            assert.equal(code, want.code, `${event.type} in ${isaState(s)}`);
            continue;
          }
          assert.ok(got, `${event.type} in ${isaState(s)} was refused with ${code}`);
          const prev = s;
          s = got.state;
          m = want.m;
          assert.equal(isaState(s), displayM(m), `${event.type}: display state`);
          assert.equal(got.notify, want.notify, `${event.type} → ${isaState(s)}: notify`);
          // Invariants.
          if (processOf(s) === 'normal') assert.ok(!s.active && s.acked);
          if (isaState(s) === 'shelved' || isaState(s) === 'suppressed' || isaState(s) === 'out-of-service') assert.equal(got.notify, false);
          if (s.latched) assert.ok(s.latching && !s.active && !s.acked);
          if (!got.changed) assert.equal(s, prev);
          if (event.type === 'ack') activationsAtAck = s.activations;
          if (activationsAtAck >= 0 && !s.acked) assert.ok(s.activations > activationsAtAck, 'needs ack again only after a new activation');
          if (!s.acked) activationsAtAck = -1;
          // Survives a restart: JSON round trip, and the restored state behaves the same.
          const restored = JSON.parse(JSON.stringify(s)) as AlarmState;
          assert.deepEqual(restored, s);
          assert.deepEqual(apply(restored, tick, now + HOUR).state, apply(s, tick, now + HOUR).state);
        }
      }),
      { numRuns: 500 },
    );
  });
});

function processOf(s: AlarmState): P {
  if (s.active) return s.acked ? 'acked' : 'unacked';
  if (s.acked) return 'normal';
  return s.latched ? 'latched' : 'rtn-unacked';
}

test('assignment is bookkeeping beside the states: any state, recorded as an operator action, idempotent, never annunciated', () => {
  const raised = apply(initialAlarmState({}, 0), { type: 'activate' }, 1).state;
  const a = apply(raised, { type: 'assign', user: 'lead', assignee: 'wang.fang', comment: 'night shift' }, 2);
  assert.deepEqual([a.changed, a.notify, isaState(a.state), a.state.assignee, a.state.lastAction?.type, a.state.acked], [true, false, 'unacked', 'wang.fang', 'assign', false]);
  assert.equal(apply(a.state, { type: 'assign', user: 'lead', assignee: 'wang.fang' }, 3).changed, false, 'the same assignee again changes nothing');
  assert.equal(apply(a.state, { type: 'assign', user: 'lead', assignee: null }, 4).state.assignee, null);
  assert.throws(() => apply(a.state, { type: 'assign', user: 'lead', assignee: '' }, 5), (e: unknown) => (e as { code?: string }).code === 'IIP_ERR_VALIDATION');
});
