/**
 * Where task inputs (image_urls / image_input) and `fileUrl` uploads come from: the simulator's own
 * `/files/` and `/results/` URLs are read straight from its store (no HTTP round trip, and no
 * address guard in the way of its loopback address); every other URL goes out through the guarded
 * fetch (fetchGuard.ts).
 */
import type { Agent } from "undici";
import { guardedFetchBytes } from "./fetchGuard";
import type { BoundedMap, StoredBlob } from "./store";

export interface SourcesOptions {
  blobs: BoundedMap<string, StoredBlob>;
  /** The bases this simulator answers under (its public URL, its own address, localhost…). */
  localBases(): readonly string[];
  fetchTimeoutMs: number;
  /** The guarded connection pool (fetchGuard.ts). */
  fetchAgent: Agent;
  trustedFetchOrigins: readonly string[];
  /** Aborted when the simulator closes. */
  signal: AbortSignal;
}

export interface FetchedSource {
  bytes: Buffer;
  contentType?: string;
}

export class Sources {
  constructor(private readonly options: SourcesOptions) {}

  /** For URLs under this simulator's own bases: the stored blob (or none, meaning 404). */
  resolveOwnUrl(url: string): { blob?: StoredBlob } | undefined {
    let href: string;
    try {
      const parsed = new URL(url);
      href = `${parsed.origin}${parsed.pathname}`;
    } catch {
      return undefined;
    }
    for (const base of this.options.localBases()) {
      if (!href.startsWith(`${base}/`)) continue;
      const rest = href.slice(base.length + 1);
      if (!rest.startsWith("files/") && !rest.startsWith("results/")) return {};
      try {
        return { blob: this.options.blobs.get(rest.split("/").map(decodeURIComponent).join("/")) };
      } catch {
        return {};
      }
    }
    return undefined;
  }

  /**
   * The bytes behind `url`; undefined for one of the simulator's own URLs that serves nothing
   * (HTTP 404). Throws FetchError when another host cannot be fetched.
   */
  async fetch(url: string, maxBytes: number): Promise<FetchedSource | undefined> {
    const own = this.resolveOwnUrl(url);
    if (own) return own.blob && { bytes: own.blob.bytes, contentType: own.blob.mimeType };
    return guardedFetchBytes(url, {
      timeoutMs: this.options.fetchTimeoutMs,
      maxBytes,
      signal: this.options.signal,
      agent: this.options.fetchAgent,
      trustedOrigins: this.options.trustedFetchOrigins,
    });
  }
}
