/**
 * The MQTT server's subscription index: a tree of topic levels (one node per level, `+` and `#` as their own
 * children), so that routing a message visits only the subscriptions that can match it — O(topic levels), not
 * O(sessions × subscriptions). With 10,000 devices each subscribed to its own command topic, matching every
 * telemetry PUBLISH against every subscription was nearly half of the platform's CPU (issue 20's profile).
 *
 * Same rules as `matches()` in topic-filter.ts: `+` one level, `#` the rest and the parent level itself, and a
 * topic starting with `$` is never matched by a wildcard in the first level.
 */

interface Node<S> {
  readonly children: Map<string, Node<S>>;
  /** Subscribers whose filter ends at this node: owner → the subscription keys (a session may hold several). */
  readonly here: Map<S, Set<string>>;
}

function node<S>(): Node<S> {
  return { children: new Map(), here: new Map() };
}

export class SubscriptionIndex<S> {
  private readonly root: Node<S> = node();
  /** owner → filter → keys, to remove an owner's entries without searching the tree. */
  private readonly byOwner = new Map<S, Map<string, Set<string>>>();

  /** Indexes subscription `key` (e.g. "$share/g/a/+" or "a/+") of `owner` under its topic `filter` ("a/+"). */
  add(owner: S, key: string, filter: string): void {
    let n = this.root;
    for (const level of filter.split('/')) {
      let c = n.children.get(level);
      if (!c) {
        c = node();
        n.children.set(level, c);
      }
      n = c;
    }
    let keys = n.here.get(owner);
    if (!keys) {
      keys = new Set();
      n.here.set(owner, keys);
    }
    keys.add(key);
    let filters = this.byOwner.get(owner);
    if (!filters) {
      filters = new Map();
      this.byOwner.set(owner, filters);
    }
    let fk = filters.get(filter);
    if (!fk) {
      fk = new Set();
      filters.set(filter, fk);
    }
    fk.add(key);
  }

  remove(owner: S, key: string, filter: string): void {
    const path: Array<[Node<S>, string]> = [];
    let n: Node<S> | undefined = this.root;
    for (const level of filter.split('/')) {
      const c: Node<S> | undefined = n.children.get(level);
      if (!c) return;
      path.push([n, level]);
      n = c;
    }
    const keys = n.here.get(owner);
    if (keys) {
      keys.delete(key);
      if (keys.size === 0) n.here.delete(owner);
    }
    // prune empty branches, so that a fleet coming and going leaves no dead nodes behind
    for (let i = path.length - 1; i >= 0; i--) {
      const [parent, level] = path[i] as [Node<S>, string];
      const child = parent.children.get(level) as Node<S>;
      if (child.here.size > 0 || child.children.size > 0) break;
      parent.children.delete(level);
    }
    const fk = this.byOwner.get(owner)?.get(filter);
    if (fk) {
      fk.delete(key);
      if (fk.size === 0) this.byOwner.get(owner)?.delete(filter);
      if (this.byOwner.get(owner)?.size === 0) this.byOwner.delete(owner);
    }
  }

  /** Removes every subscription of `owner`. */
  removeOwner(owner: S): void {
    const filters = this.byOwner.get(owner);
    if (!filters) return;
    for (const [filter, keys] of [...filters]) for (const key of [...keys]) this.remove(owner, key, filter);
    this.byOwner.delete(owner);
  }

  /** Calls `visit(owner, key)` for every subscription whose filter matches `topic` (a topic name). */
  match(topic: string, visit: (owner: S, key: string) => void): void {
    // Nobody subscribed to anything: nothing to split or walk (telemetry of a fleet whose devices do not subscribe).
    if (this.root.children.size === 0) return;
    const levels = topic.split('/');
    const dollar = topic.startsWith('$');
    const emit = (n: Node<S>) => {
      for (const [owner, keys] of n.here) for (const key of keys) visit(owner, key);
    };
    const walk = (n: Node<S>, i: number): void => {
      // `#` matches this level and everything below it (also the parent level itself: "a/#" matches "a")
      const hash = n.children.get('#');
      if (hash && !(dollar && i === 0)) emit(hash);
      if (i === levels.length) {
        emit(n);
        return;
      }
      const exact = n.children.get(levels[i] as string);
      if (exact) walk(exact, i + 1);
      const plus = n.children.get('+');
      if (plus && !(dollar && i === 0)) walk(plus, i + 1);
    };
    walk(this.root, 0);
  }

  /** Number of indexed subscriptions (for stats and tests). */
  get size(): number {
    let n = 0;
    for (const filters of this.byOwner.values()) for (const keys of filters.values()) n += keys.size;
    return n;
  }
}
