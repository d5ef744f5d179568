/**
 * The header's alarm banner: how many alarms wait for an acknowledgement (unacked, returned-unacknowledged or
 * latched), coloured by the highest severity among them, linking to the Alarms page; and a sound toggle (off by
 * default, remembered in localStorage) that beeps through WebAudio when a new alarm starts waiting. Mounted only
 * for users with alarms:read, so nobody else polls.
 */
import { useCallback, useEffect, useRef, useState } from 'react';
import type { ApiClient } from '../api-client';
import { routeHref } from '../route';
import { usePoll } from '../use-poll';
import { alarmsApi, annunciationKeys, bannerSummary, newlyAnnunciated } from './alarms-model';
import { useAlarmsText } from './alarms-ui';

export const BANNER_REFRESH_MS = 3000;
export const SOUND_KEY = 'iip.console.alarmSound';

function loadSound(): boolean {
  try {
    return localStorage.getItem(SOUND_KEY) === 'on';
  } catch {
    return false;
  }
}

let audio: AudioContext | undefined;

/** A short beep (880 Hz, 0.2 s). Browsers allow sound once the page had a click, which turning sound on is. */
export function beep(): void {
  try {
    audio ??= new AudioContext();
    const osc = audio.createOscillator();
    const gain = audio.createGain();
    osc.type = 'sine';
    osc.frequency.value = 880;
    gain.gain.setValueAtTime(0.2, audio.currentTime);
    gain.gain.exponentialRampToValueAtTime(0.001, audio.currentTime + 0.2);
    osc.connect(gain).connect(audio.destination);
    osc.start();
    osc.stop(audio.currentTime + 0.2);
    (window as unknown as { iipAlarmBeeps?: number }).iipAlarmBeeps = ((window as unknown as { iipAlarmBeeps?: number }).iipAlarmBeeps ?? 0) + 1;
  } catch {
    // No audio device or API: the banner's colour still says it.
  }
}

export function AlarmBanner({ api, active }: { api: ApiClient; active: boolean }) {
  const t = useAlarmsText();
  const load = useCallback(() => alarmsApi.list(api, { open: true, limit: 500 }), [api]);
  const poll = usePoll(load, BANNER_REFRESH_MS);
  const [sound, setSound] = useState(loadSound);
  const seen = useRef<Set<string> | undefined>(undefined);
  const items = poll.data?.items;

  useEffect(() => {
    if (!items) return;
    const now = annunciationKeys(items);
    if (sound && newlyAnnunciated(seen.current, now)) beep();
    seen.current = now;
  }, [items, sound]);

  const toggle = () => {
    const on = !sound;
    setSound(on);
    try {
      localStorage.setItem(SOUND_KEY, on ? 'on' : 'off');
    } catch {
      // private mode: the choice lasts for this page only
    }
    if (on) {
      // Creating the context inside the click lets the browser play later beeps.
      try {
        audio ??= new AudioContext();
        void audio.resume();
      } catch {
        // no audio
      }
    }
  };

  const { count, severity } = bannerSummary(items ?? []);
  return (
    <span className="alarm-banner" data-testid="alarm-banner">
      <a
        href={routeHref({ kind: 'alarms' })}
        title={t('banner.title')}
        className={active ? 'on' : ''}
        data-testid="alarm-banner-link"
        data-count={items ? count : ''}
        data-severity={count > 0 ? severity : ''}
      >
        <svg className="bell" viewBox="0 0 16 16" width="14" height="14" aria-hidden="true">
          <path fill="currentColor" d="M8 16a2 2 0 0 0 2-2H6a2 2 0 0 0 2 2zm5-5V7a5 5 0 0 0-4-4.9V1a1 1 0 0 0-2 0v1.1A5 5 0 0 0 3 7v4l-1.5 1.5V13h13v-.5z" />
        </svg>
        <span className={`count${count > 0 && severity ? ` sev-${severity}` : ''}`} data-testid="alarm-banner-count">
          {items ? count : '…'}
        </span>
      </a>
      <button
        type="button"
        className={`sound${sound ? ' on' : ''}`}
        data-testid="alarm-sound"
        aria-pressed={sound}
        title={sound ? t('banner.soundOn') : t('banner.soundOff')}
        aria-label={t('banner.sound')}
        onClick={toggle}
      >
        <svg viewBox="0 0 16 16" width="14" height="14" aria-hidden="true">
          <path fill="currentColor" d="M2 6h3l4-3v10L5 10H2z" />
          {sound ? (
            <path fill="none" stroke="currentColor" strokeWidth="1.4" d="M11 5.5a3.5 3.5 0 0 1 0 5M12.8 3.5a6 6 0 0 1 0 9" />
          ) : (
            <path fill="none" stroke="currentColor" strokeWidth="1.4" d="M11 5.5l4 5M15 5.5l-4 5" />
          )}
        </svg>
      </button>
    </span>
  );
}
