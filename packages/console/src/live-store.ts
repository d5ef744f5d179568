/**
 * Latest values of every device, fed by the initial /latest fetches and the WebSocket. Kept outside React
 * and read through useSyncExternalStore; listeners are notified at most once per animation frame, so a
 * burst of telemetry for 500 devices costs one render, not 500.
 */
import { useSyncExternalStore } from 'react';
import type { LatestValues, TelemetryFrame } from './api-types';
import { mergeLatest } from './live-values';

type Listener = () => void;

export class LiveStore {
  private values = new Map<string, LatestValues>();
  private listeners = new Set<Listener>();
  private scheduled = false;
  /** Bumped on every change so whole-table views have a cheap snapshot. */
  private version = 0;

  get(device: string): LatestValues | undefined {
    return this.values.get(device);
  }

  getVersion = (): number => this.version;

  apply(frame: TelemetryFrame): void {
    this.merge(frame.device, frame.points);
  }

  /** The initial /latest answer; merged with the newer-wins rule, so a late answer cannot undo live data. */
  seed(device: string, values: LatestValues): void {
    this.merge(
      device,
      Object.entries(values).map(([property, v]) => ({ property, ts: v.ts, value: v.value })),
    );
  }

  private merge(device: string, points: TelemetryFrame['points']): void {
    const cur = this.values.get(device);
    const next = mergeLatest(cur, points);
    if (next === cur) return;
    this.values.set(device, next);
    this.version++;
    this.schedule();
  }

  subscribe = (l: Listener): (() => void) => {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  };

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    const flush = () => {
      this.scheduled = false;
      for (const l of this.listeners) l();
    };
    // rAF pauses in background tabs, which is what we want; setTimeout covers environments without it.
    if (typeof requestAnimationFrame === 'function') requestAnimationFrame(flush);
    else setTimeout(flush, 16);
  }
}

export function useLiveDevice(store: LiveStore, device: string): LatestValues | undefined {
  return useSyncExternalStore(store.subscribe, () => store.get(device));
}

/** Re-renders on any change; for views that show many devices. */
export function useLiveVersion(store: LiveStore): number {
  return useSyncExternalStore(store.subscribe, store.getVersion);
}
