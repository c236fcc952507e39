/**
 * Bounded in-memory stores. A long load test creates tasks and files without end; these maps
 * forget the oldest entries (by insertion; an overwrite counts as new) so memory stays flat. An
 * evicted file or result answers 404, like an expired KIE URL.
 */

export interface BoundedMapLimits<K, V> {
  maxEntries: number;
  maxBytes?: number;
  /** A value's size, counted against maxBytes. */
  sizeOf?: (value: V) => number;
  onEvict?: (key: K, value: V) => void;
}

export class BoundedMap<K, V> {
  private readonly entries = new Map<K, V>();
  private bytes = 0;

  private readonly sizeOf: (value: V) => number;

  constructor(private readonly limits: BoundedMapLimits<K, V>) {
    this.sizeOf = limits.sizeOf ?? (() => 0);
  }

  get size(): number {
    return this.entries.size;
  }

  get totalBytes(): number {
    return this.bytes;
  }

  get(key: K): V | undefined {
    return this.entries.get(key);
  }

  has(key: K): boolean {
    return this.entries.has(key);
  }

  set(key: K, value: V): void {
    this.delete(key);
    this.entries.set(key, value);
    this.bytes += this.sizeOf(value);
    this.evict(key);
  }

  delete(key: K): boolean {
    const old = this.entries.get(key);
    if (old === undefined) return false;
    this.entries.delete(key);
    this.bytes -= this.sizeOf(old);
    return true;
  }

  values(): IterableIterator<V> {
    return this.entries.values();
  }

  clear(): void {
    this.entries.clear();
    this.bytes = 0;
  }

  /** Drops the oldest entries until within limits; the newest entry is kept even if it alone is too big. */
  private evict(newest: K): void {
    const maxBytes = this.limits.maxBytes ?? Number.POSITIVE_INFINITY;
    for (const [key, value] of this.entries) {
      if (this.entries.size <= this.limits.maxEntries && this.bytes <= maxBytes) break;
      if (key === newest) break;
      this.entries.delete(key);
      this.bytes -= this.sizeOf(value);
      this.limits.onEvict?.(key, value);
    }
  }
}

export interface StoredBlob {
  bytes: Buffer;
  mimeType: string;
  createdAt: number;
}
