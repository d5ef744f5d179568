/**
 * MQTT topic filters (MQTT 3.1.1 §4.7, MQTT 5 §4.7–4.8): `+` matches one level, `#` the rest (and the parent
 * level itself), topics starting with `$` are never matched by a leading wildcard, and `$share/{group}/{filter}`
 * names a shared subscription.
 */

/** Whether `filter` is well formed: wildcards stand alone in their level, `#` only last. */
export function validFilter(filter: string): boolean {
  if (filter.length === 0 || filter.includes('\u0000')) return false;
  const levels = filter.split('/');
  for (let i = 0; i < levels.length; i++) {
    const l = levels[i] as string;
    if (l.includes('#') && (l !== '#' || i !== levels.length - 1)) return false;
    if (l.includes('+') && l !== '+') return false;
  }
  return true;
}

/** Whether `topic` (a topic name, no wildcards) matches `filter`. */
export function matches(filter: string, topic: string): boolean {
  if (topic.startsWith('$') && (filter.startsWith('+') || filter.startsWith('#'))) return false;
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    const level = f[i];
    if (level === '#') return true;
    if (i >= t.length) return false;
    if (level !== '+' && level !== t[i]) return false;
  }
  return f.length === t.length;
}

/** `$share/{group}/{filter}` → its parts; anything else → undefined. */
export function sharedSubscription(filter: string): { readonly group: string; readonly filter: string } | undefined {
  if (!filter.startsWith('$share/')) return undefined;
  const rest = filter.slice('$share/'.length);
  const slash = rest.indexOf('/');
  if (slash <= 0) return undefined;
  const group = rest.slice(0, slash);
  if (group.includes('+') || group.includes('#')) return undefined;
  return { group, filter: rest.slice(slash + 1) };
}
