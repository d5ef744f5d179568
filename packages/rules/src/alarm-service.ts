/**
 * Alarms as the platform keeps them (issue 13, point 5): the rule engine's raises and clears, and operators'
 * actions, applied to the stored alarm with the ISA-18.2 lifecycle (alarm-state.ts), every change written with a
 * history entry in one transaction. One alarm per (rule, device) is open at a time — the store enforces it across
 * processes — from its activation until it is back to normal, acknowledged and neither shelved nor out of service;
 * the next activation opens a new one (its own history, and a count for the KPIs).
 *
 * Concurrent changes of one alarm (an operator's ack while the engine clears it) are serialised by the store's
 * version check: the loser reads the alarm again and applies its event to the new state.
 */
import { randomUUID } from 'node:crypto';
import { type DeviceId, IipError, type TenantId } from '@iip/core';
import type { Alarm, AlarmHistoryEntry, AlarmStore } from '@iip/storage';
import { type AlarmEvent, type AlarmState, apply, initialAlarmState, isaState, isHidden, processState } from './alarm-state.js';
import type { Transition } from './engine.js';

/** Operator actions (the API's). */
export type OperatorEvent = Extract<AlarmEvent, { user: string }>;

export interface AlarmServiceOptions {
  readonly now?: () => number;
  readonly maxShelveMs?: number;
  readonly log?: (msg: string, fields: Record<string, unknown>) => void;
  /** Told of every change that should be annunciated (a visible new activation…): notifications, the banner. */
  readonly onNotify?: (alarm: Alarm) => void;
  /** Told of every stored change (the live alarm list). */
  readonly onChange?: (alarm: Alarm, entry: AlarmHistoryEntry) => void;
}

/** Open while it needs anything: not back to normal and acknowledged, or shelved / out of service / suppressed. */
export function isOpen(s: AlarmState): boolean {
  return processState(s) !== 'normal' || isHidden(s);
}

const ATTEMPTS = 5;

export class AlarmService {
  private readonly now: () => number;

  constructor(
    private readonly store: AlarmStore,
    private readonly opts: AlarmServiceOptions = {},
  ) {
    this.now = opts.now ?? Date.now;
  }

  /**
   * A raise or clear of the rule engine (its `onTransition` port), or suppression by design beginning or ending. A
   * raise while the rule is suppressed opens the alarm suppressed (kept from the display, not annunciated).
   */
  async onTransition(t: Transition): Promise<void> {
    const tenant = t.tenant as TenantId;
    const device = t.device as DeviceId;
    const rule = t.rule.rule;
    const event: AlarmEvent = { type: t.kind === 'raise' ? 'activate' : t.kind };
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      const open = await this.store.openAlarm(tenant, rule.id, device);
      if (!open) {
        // A clear or a suppression change with no open alarm: nothing to do (a raise later carries the suppression).
        if (event.type !== 'activate') return;
        const now = this.now();
        const initial = initialAlarmState({ latching: rule.alarm.latching }, now);
        const r = apply(t.suppressed ? apply(initial, { type: 'suppress' }, now, this.shelveOptions()).state : initial, event, now, this.shelveOptions());
        const id = randomUUID();
        try {
          const made = await this.store.createAlarm(
            {
              tenant,
              id,
              rule: rule.id,
              device,
              source: t.source ?? 'device',
              severity: rule.alarm.severity,
              message: rule.alarm.message || rule.name,
              state: r.state,
              open: isOpen(r.state),
              raisedAt: now,
              updatedAt: now,
            },
            { tenant, alarm: id, ts: now, type: event.type, user: null, comment: null, isaState: isaState(r.state) },
          );
          this.told(made.alarm, made.entry, r.notify);
          return;
        } catch (e) {
          // Another process opened it meanwhile: apply the activation to that one.
          if (e instanceof IipError && e.code === 'IIP_ERR_CONFLICT') continue;
          throw e;
        }
      }
      if (await this.tryApply(open, event, null)) return;
    }
    throw new IipError('IIP_ERR_CONFLICT', `alarm of rule "${rule.id}" on device "${device}" kept changing; not updated`, { rule: rule.id, device });
  }

  /** An operator's action on an alarm: refused with the lifecycle's IIP_ERR_ALARM_* code when it does not apply. */
  async act(tenant: TenantId, id: string, event: OperatorEvent): Promise<Alarm> {
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      const a = await this.store.getAlarm(tenant, id);
      if (!a) throw new IipError('IIP_ERR_NOT_FOUND', `alarm "${id}" not found`, { resource: 'alarm', id });
      const done = await this.tryApply(a, event, event.user, 'comment' in event ? (event.comment ?? null) : null);
      if (done) return done;
    }
    throw new IipError('IIP_ERR_CONFLICT', `alarm "${id}" kept changing; try again`, { resource: 'alarm', id });
  }

  /** Ends timed shelving that has run out (a periodic tick); returns how many alarms changed. */
  async expireShelving(tenant: TenantId): Promise<number> {
    let changed = 0;
    let before: { raisedAt: number; id: string } | undefined;
    for (;;) {
      const page = await this.store.listAlarms(tenant, { open: true, limit: 500, ...(before && { before }) });
      for (const a of page) {
        const s = a.state as AlarmState;
        if (s.shelving.kind === 'timed' && s.shelving.until <= this.now() && (await this.tryApply(a, { type: 'tick' }, null))) changed++;
      }
      const last = page[page.length - 1];
      if (page.length < 500 || !last) return changed;
      before = { raisedAt: last.raisedAt, id: last.id };
    }
  }

  /** Applies `event` to `a` as stored; false when someone changed it meanwhile (read it again). */
  private async tryApply(a: Alarm, event: AlarmEvent, user: string | null, comment: string | null = null): Promise<Alarm | false> {
    const now = this.now();
    const r = apply(a.state as AlarmState, event, now, this.shelveOptions());
    if (!r.changed) return a;
    try {
      const done = await this.store.updateAlarm(
        { ...a, state: r.state, open: isOpen(r.state), updatedAt: now },
        a.version,
        { tenant: a.tenant, alarm: a.id, ts: now, type: event.type, user, comment, isaState: isaState(r.state) },
      );
      this.told(done.alarm, done.entry, r.notify);
      return done.alarm;
    } catch (e) {
      if (e instanceof IipError && e.code === 'IIP_ERR_CONFLICT') return false;
      throw e;
    }
  }

  private told(alarm: Alarm, entry: AlarmHistoryEntry, notify: boolean): void {
    try {
      this.opts.onChange?.(alarm, entry);
      if (notify) this.opts.onNotify?.(alarm);
    } catch (e) {
      this.opts.log?.('alarms: a listener failed', { alarm: alarm.id, err: String(e) });
    }
  }

  private shelveOptions(): { maxShelveMs?: number } {
    return this.opts.maxShelveMs !== undefined ? { maxShelveMs: this.opts.maxShelveMs } : {};
  }
}
