/**
 * The alarm lifecycle (ISA-18.2 / IEC 62682, with OPC UA Part 9 Alarms & Conditions names): an alarm's state is a
 * plain JSON object, and `apply(state, event, now)` is a pure function that returns the next state, whether anything
 * changed (so the caller knows to store it) and whether the transition should be annunciated. No clock, no I/O: the
 * caller passes `now`, and stores the state wherever it likes, so it survives a restart. docs/reference/alarms.md
 * describes the state machine; rules raise alarms through `activate` / `clear`, operators act through the others.
 */
import { IipError } from '@iip/core';

/** Longest timed shelving accepted unless the caller configures another (OPC UA MaxTimeShelved). */
export const DEFAULT_MAX_SHELVE_MS = 24 * 60 * 60 * 1000;

/** OPC UA ShelvingState: Unshelved, TimedShelved (until `until`, ms since epoch) or OneShotShelved. */
export type Shelving =
  | { readonly kind: 'unshelved' }
  | { readonly kind: 'timed'; readonly until: number; readonly user: string; readonly since: number }
  | { readonly kind: 'one-shot'; readonly user: string; readonly since: number };

export type OperatorActionType = 'ack' | 'shelve' | 'unshelve' | 'remove-from-service' | 'return-to-service' | 'assign';

export interface OperatorAction {
  readonly type: OperatorActionType;
  readonly user: string;
  readonly at: number;
  readonly comment?: string;
}

export interface AlarmState {
  /** The rule's option: a latching alarm that returns to normal unacknowledged is held (latched) until acknowledged. */
  readonly latching: boolean;
  /** OPC UA ActiveState: the condition is abnormal now. Tracked even while the alarm is hidden. */
  readonly active: boolean;
  /** OPC UA AckedState: false while the operator still has to acknowledge an activation. */
  readonly acked: boolean;
  /** OPC UA LatchedState: a latching alarm returned to normal unacknowledged; acknowledging it resets the latch. */
  readonly latched: boolean;
  readonly shelving: Shelving;
  /** OPC UA SuppressedState: suppressed by design (e.g. the machine is stopped), set by the system. */
  readonly suppressed: boolean;
  /** OPC UA OutOfServiceState: removed from service by an operator (maintenance). */
  readonly outOfService: boolean;
  /** When the current activation began (ms since epoch); null while not active. */
  readonly activeSince: number | null;
  /** When the state last changed (ms since epoch). */
  readonly lastChange: number;
  /** How many times the alarm has become active. */
  readonly activations: number;
  /** The last operator action applied (who acknowledged, shelved…), for display; the full trail is the caller's log. */
  readonly lastAction: OperatorAction | null;
  /** Who is to deal with it (a user name), or null; absent in states stored before assignment existed. */
  readonly assignee?: string | null;
}

export type AlarmEvent =
  | { readonly type: 'activate' }
  | { readonly type: 'clear' }
  | { readonly type: 'ack'; readonly user: string; readonly comment?: string }
  | { readonly type: 'shelve'; readonly kind: 'timed'; readonly durationMs: number; readonly user: string; readonly comment?: string }
  | { readonly type: 'shelve'; readonly kind: 'one-shot'; readonly user: string; readonly comment?: string }
  | { readonly type: 'unshelve'; readonly user: string; readonly comment?: string }
  | { readonly type: 'suppress' }
  | { readonly type: 'unsuppress' }
  | { readonly type: 'remove-from-service'; readonly user: string; readonly comment?: string }
  | { readonly type: 'return-to-service'; readonly user: string; readonly comment?: string }
  | { readonly type: 'assign'; readonly user: string; readonly assignee: string | null; readonly comment?: string }
  | { readonly type: 'tick' };

/** The ISA-18.2 display state; the hiding states win over the process states, out of service first. */
export type IsaState = 'normal' | 'unacked' | 'acked' | 'rtn-unacked' | 'latched' | 'shelved' | 'suppressed' | 'out-of-service';

export interface AlarmTransition {
  readonly state: AlarmState;
  /** Anything in the state differs (then `lastChange` is `now`): store it. */
  readonly changed: boolean;
  /** Annunciate this transition (notify people): a visible new activation, or an alarm needing attention coming out of hiding. */
  readonly notify: boolean;
}

export interface AlarmOptions {
  /** Longest timed shelving accepted (ms); DEFAULT_MAX_SHELVE_MS when left out. */
  readonly maxShelveMs?: number;
}

/** A new alarm: normal, in service, not shelved or suppressed. */
export function initialAlarmState(opts: { readonly latching?: boolean }, now: number): AlarmState {
  return {
    latching: opts.latching === true,
    active: false,
    acked: true,
    latched: false,
    shelving: { kind: 'unshelved' },
    suppressed: false,
    outOfService: false,
    activeSince: null,
    lastChange: now,
    activations: 0,
    lastAction: null,
  };
}

/** Shelved, suppressed or out of service: the alarm is kept from the operator's display and never annunciated. */
export function isHidden(s: AlarmState): boolean {
  return s.outOfService || s.suppressed || s.shelving.kind !== 'unshelved';
}

/** The process/acknowledgement part of the state, ignoring shelving, suppression and out of service. */
export function processState(s: AlarmState): 'normal' | 'unacked' | 'acked' | 'rtn-unacked' | 'latched' {
  if (s.active) return s.acked ? 'acked' : 'unacked';
  if (s.acked) return 'normal';
  return s.latched ? 'latched' : 'rtn-unacked';
}

export function isaState(s: AlarmState): IsaState {
  if (s.outOfService) return 'out-of-service';
  if (s.shelving.kind !== 'unshelved') return 'shelved';
  if (s.suppressed) return 'suppressed';
  return processState(s);
}

/** The operator still has to acknowledge something (an activation, a return to normal, a latch). */
export function needsAck(s: AlarmState): boolean {
  return !s.acked;
}

/** The state in OPC UA Part 9 AlarmConditionType terms (TwoStateVariable ids and the ShelvingState's current state). */
export function opcUaState(s: AlarmState): {
  readonly ActiveState: boolean;
  readonly AckedState: boolean;
  readonly LatchedState: boolean;
  readonly ShelvingState: 'Unshelved' | 'TimedShelved' | 'OneShotShelved';
  readonly SuppressedState: boolean;
  readonly OutOfServiceState: boolean;
  readonly SuppressedOrShelved: boolean;
} {
  const shelving = s.shelving.kind === 'timed' ? 'TimedShelved' : s.shelving.kind === 'one-shot' ? 'OneShotShelved' : 'Unshelved';
  return {
    ActiveState: s.active,
    AckedState: s.acked,
    LatchedState: s.latched,
    ShelvingState: shelving,
    SuppressedState: s.suppressed,
    OutOfServiceState: s.outOfService,
    SuppressedOrShelved: s.suppressed || s.shelving.kind !== 'unshelved',
  };
}

function refuse(code: string, message: string, s: AlarmState, event: AlarmEvent, extra: Record<string, unknown> = {}): never {
  throw new IipError(code, message, { state: isaState(s), event: event.type, ...extra });
}

function operator(event: AlarmEvent & { readonly user: string; readonly comment?: string }, now: number): OperatorAction {
  if (typeof event.user !== 'string' || event.user.length === 0) {
    throw new IipError('IIP_ERR_VALIDATION', `alarm ${event.type}: the operator (user) is missing`, { field: 'user' });
  }
  const action: OperatorAction = { type: event.type as OperatorActionType, user: event.user, at: now };
  return event.comment === undefined ? action : { ...action, comment: event.comment };
}

/** Timed shelving ends at `until`, whatever event arrives first at or after it. */
function expireShelving(s: AlarmState, now: number): AlarmState {
  return s.shelving.kind === 'timed' && now >= s.shelving.until ? { ...s, shelving: { kind: 'unshelved' } } : s;
}

function step(s: AlarmState, event: AlarmEvent, now: number, maxShelveMs: number): AlarmState {
  switch (event.type) {
    case 'tick':
      return s;
    case 'activate':
      if (s.active) return s;
      return { ...s, active: true, acked: false, latched: false, activeSince: now, activations: s.activations + 1 };
    case 'clear': {
      if (!s.active) return s;
      const hidden = isHidden(s);
      // A return to normal while hidden needs no acknowledgement: the alarm was kept from the operator on purpose.
      const acked = hidden || s.acked;
      const shelving: Shelving = s.shelving.kind === 'one-shot' ? { kind: 'unshelved' } : s.shelving;
      return { ...s, active: false, acked, latched: !acked && s.latching, activeSince: null, shelving };
    }
    case 'ack':
      if (s.acked) refuse('IIP_ERR_ALARM_NOT_ACKABLE', `the alarm is ${isaState(s)} and needs no acknowledgement`, s, event);
      return { ...s, acked: true, latched: false, lastAction: operator(event, now) };
    case 'shelve': {
      if (s.outOfService) refuse('IIP_ERR_ALARM_OUT_OF_SERVICE', 'an alarm out of service cannot be shelved', s, event);
      const by = operator(event, now);
      if (event.kind === 'one-shot') {
        if (!s.active) refuse('IIP_ERR_ALARM_NOT_ACTIVE', 'one-shot shelving needs an active alarm (it ends when the alarm returns to normal)', s, event);
        if (s.shelving.kind === 'one-shot') refuse('IIP_ERR_ALARM_ALREADY_SHELVED', 'the alarm is already one-shot shelved', s, event);
        return { ...s, shelving: { kind: 'one-shot', user: by.user, since: now }, lastAction: by };
      }
      const d = event.durationMs;
      if (typeof d !== 'number' || !Number.isFinite(d) || d <= 0 || d > maxShelveMs) {
        refuse('IIP_ERR_ALARM_SHELVE_DURATION', `shelving duration must be more than 0 and at most ${maxShelveMs} ms`, s, event, { durationMs: d, maxMs: maxShelveMs });
      }
      return { ...s, shelving: { kind: 'timed', until: now + d, user: by.user, since: now }, lastAction: by };
    }
    case 'unshelve':
      if (s.shelving.kind === 'unshelved') refuse('IIP_ERR_ALARM_NOT_SHELVED', 'the alarm is not shelved', s, event);
      return { ...s, shelving: { kind: 'unshelved' }, lastAction: operator(event, now) };
    case 'suppress':
      return s.suppressed ? s : { ...s, suppressed: true };
    case 'unsuppress':
      return s.suppressed ? { ...s, suppressed: false } : s;
    case 'remove-from-service':
      if (s.outOfService) refuse('IIP_ERR_ALARM_OUT_OF_SERVICE', 'the alarm is already out of service', s, event);
      return { ...s, outOfService: true, lastAction: operator(event, now) };
    case 'return-to-service':
      if (!s.outOfService) refuse('IIP_ERR_ALARM_IN_SERVICE', 'the alarm is in service', s, event);
      return { ...s, outOfService: false, lastAction: operator(event, now) };
    case 'assign': {
      // Assignment is bookkeeping beside the ISA-18.2 states: any state, any time, to a user or to nobody.
      if (event.assignee !== null && (typeof event.assignee !== 'string' || event.assignee.length === 0 || event.assignee.length > 200)) {
        throw new IipError('IIP_ERR_VALIDATION', 'alarm assign: assignee is a user name (1–200 characters) or null', { field: 'assignee' });
      }
      if ((s.assignee ?? null) === event.assignee) return s;
      return { ...s, assignee: event.assignee, lastAction: operator(event, now) };
    }
    default: {
      const never: never = event;
      throw new IipError('IIP_ERR_VALIDATION', `unknown alarm event ${JSON.stringify(never)}`, { field: 'type' });
    }
  }
}

function sameShelving(a: Shelving, b: Shelving): boolean {
  if (a.kind !== b.kind) return false;
  if (a.kind === 'timed' && b.kind === 'timed') return a.until === b.until && a.user === b.user && a.since === b.since;
  if (a.kind === 'one-shot' && b.kind === 'one-shot') return a.user === b.user && a.since === b.since;
  return true;
}

/** Equal apart from lastChange (lastAction is compared by reference: it is replaced only by an applied operator action). */
function same(a: AlarmState, b: AlarmState): boolean {
  return (
    a.latching === b.latching &&
    a.active === b.active &&
    a.acked === b.acked &&
    a.latched === b.latched &&
    sameShelving(a.shelving, b.shelving) &&
    a.suppressed === b.suppressed &&
    a.outOfService === b.outOfService &&
    a.activeSince === b.activeSince &&
    a.activations === b.activations &&
    a.lastAction === b.lastAction &&
    (a.assignee ?? null) === (b.assignee ?? null)
  );
}

/** Needs the operator's attention with the alarm display showing it as an alarm. */
function alarming(s: AlarmState): boolean {
  const p = isaState(s);
  return p === 'unacked' || p === 'latched';
}

/**
 * Applies one event. Operator actions that make no sense in the current state throw an IipError with a stable code
 * (the state is then unchanged); system events (activate, clear, suppress, unsuppress, tick) never throw and are
 * idempotent. A timed shelving whose time is up ends before the event is applied.
 */
export function apply(state: AlarmState, event: AlarmEvent, now: number, options: AlarmOptions = {}): AlarmTransition {
  if (typeof now !== 'number' || !Number.isFinite(now)) {
    throw new IipError('IIP_ERR_VALIDATION', 'alarm transition: now must be a finite number of ms since epoch', { field: 'now' });
  }
  const next = step(expireShelving(state, now), event, now, options.maxShelveMs ?? DEFAULT_MAX_SHELVE_MS);
  if (same(state, next)) return { state, changed: false, notify: false };
  const newActivation = next.activations > state.activations;
  const notify = !isHidden(next) && ((newActivation && next.active) || (isHidden(state) && alarming(next)));
  return { state: { ...next, lastChange: now }, changed: true, notify };
}
