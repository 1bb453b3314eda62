/**
 * Remembers the result of a lookup for a while, misses included, so a warm
 * function does not repeat reads on its busiest path.
 */
export class TtlCache<V> {
  readonly #entries = new Map<string, { value: V; expiresAt: number }>();

  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries = 1_000
  ) {}

  async get(key: string, load: () => Promise<V>, now = Date.now()): Promise<V> {
    const entry = this.#entries.get(key);
    if (entry && entry.expiresAt > now) return entry.value;
    const value = await load();
    if (this.#entries.size >= this.maxEntries) this.#entries.clear();
    this.#entries.set(key, { value, expiresAt: now + this.ttlMs });

    return value;
  }
}
