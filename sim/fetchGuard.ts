/**
 * kie-sim's outbound fetches (image_urls, fileUrl) go through this guard (DESIGN.md §6): the sim
 * runs inside the app process by default, so a URL a user chose must never reach loopback, private
 * or link-local addresses there. Names are resolved here and checked at connect time (no DNS
 * rebinding), IP literals before connecting, and every redirect hop again (`redirect: "manual"`).
 * Failures say nothing about the network: no errno, no TLS message, no resolved address.
 *
 * kie-sim stands alone (it does not import lib/): this is its own small copy of the proxy's guard.
 */
import { lookup as dnsLookup, type LookupAddress } from "node:dns";
import { BlockList, isIP, type LookupFunction } from "node:net";
import { Agent, buildConnector, fetch as undiciFetch } from "undici";

const MAX_REDIRECTS = 3;

/** IPv4 ranges no public image host lives in (IANA special-purpose registry). */
const FORBIDDEN_IPV4 = new BlockList();
for (const [network, prefix] of [
  ["0.0.0.0", 8],
  ["10.0.0.0", 8],
  ["100.64.0.0", 10],
  ["127.0.0.0", 8],
  ["169.254.0.0", 16],
  ["172.16.0.0", 12],
  ["192.0.0.0", 24],
  ["192.0.2.0", 24],
  ["192.88.99.0", 24],
  ["192.168.0.0", 16],
  ["198.18.0.0", 15],
  ["198.51.100.0", 24],
  ["203.0.113.0", 24],
  ["224.0.0.0", 4],
  ["240.0.0.0", 4],
] as const) {
  FORBIDDEN_IPV4.addSubnet(network, prefix, "ipv4");
}

/**
 * Loopback, private, link-local, CGNAT, multicast, documentation and reserved addresses; IPv6
 * outside global unicast, and IPv6 forms that carry an IPv4 address (mapped, NAT64, 6to4) judged
 * by that address. What cannot be classified is refused.
 */
export function isForbiddenAddress(ip: string): boolean {
  const address = ip.replace(/^\[|\]$/g, "");
  if (address.includes("%")) return true;
  const version = isIP(address);
  if (version === 4) return FORBIDDEN_IPV4.check(address, "ipv4");
  if (version !== 6) return true;
  const groups = ipv6Groups(address);
  if (!groups) return true;
  const [g0, g1, g2, g3, g4, g5, g6, g7] = groups as [
    number,
    number,
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const v4 = (high: number, low: number) =>
    FORBIDDEN_IPV4.check(`${high >> 8}.${high & 0xff}.${low >> 8}.${low & 0xff}`, "ipv4");
  if (g0 === 0 && g1 === 0 && g2 === 0 && g3 === 0 && g4 === 0 && g5 === 0xffff) return v4(g6, g7);
  if (g0 === 0x64 && g1 === 0xff9b && g2 === 0 && g3 === 0 && g4 === 0 && g5 === 0) return v4(g6, g7);
  if (g0 === 0x2002 && v4(g1, g2)) return true;
  if ((g0 & 0xe000) !== 0x2000) return true; // not global unicast: ::1, fc00::/7, fe80::/10, ff00::/8…
  if (g0 === 0x2001 && (g1 < 0x0200 || g1 === 0x0db8)) return true; // Teredo, benchmarking, documentation
  return (g0 & 0xfff0) === 0x3ff0; // 3fff::/20 documentation
}

function ipv6Groups(address: string): number[] | undefined {
  let text = address.toLowerCase();
  const lastColon = text.lastIndexOf(":");
  const tail = text.slice(lastColon + 1);
  if (tail.includes(".")) {
    if (isIP(tail) !== 4) return undefined;
    const [a = 0, b = 0, c = 0, d = 0] = tail.split(".").map(Number);
    text = `${text.slice(0, lastColon + 1)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  const parse = (part: string) => (part === "" ? [] : part.split(":").map((h) => Number.parseInt(h, 16)));
  const head = parse(halves[0] ?? "");
  const rest = halves.length === 2 ? parse(halves[1] ?? "") : [];
  const missing = 8 - head.length - rest.length;
  if (missing < 0 || (halves.length === 1 && missing !== 0)) return undefined;
  const groups = [...head, ...new Array<number>(missing).fill(0), ...rest];
  return groups.every((n) => Number.isInteger(n) && n >= 0 && n <= 0xffff) ? groups : undefined;
}

/** Thrown for every failed download; `message` is safe to show (no network detail). */
export class FetchError extends Error {
  /** True when the source answered (an HTTP error, too big); false for refusals, network errors, timeouts. */
  readonly answered: boolean;
  /** For the sim's own log only. */
  readonly detail?: string;

  constructor(message: string, options: { answered: boolean; detail?: string }) {
    super(message);
    this.name = "FetchError";
    this.answered = options.answered;
    this.detail = options.detail;
  }
}

class ForbiddenTargetError extends Error {}

/** An undici Agent that refuses, at connect time, any forbidden address a name resolves to. */
export function createGuardedAgent(lookup: LookupFunction = dnsLookup as LookupFunction): Agent {
  const guardedLookup: LookupFunction = (hostname, options, callback) => {
    lookup(hostname, { ...options, all: true }, (error, resolved) => {
      if (error) return callback(error, "");
      const addresses = (Array.isArray(resolved) ? resolved : []) as LookupAddress[];
      if (addresses.length === 0 || addresses.some((entry) => isForbiddenAddress(entry.address))) {
        return callback(new ForbiddenTargetError(`${hostname} resolves to a forbidden address`), "");
      }
      if (options.all) return callback(null, addresses);
      const [first] = addresses as [LookupAddress];
      return callback(null, first.address, first.family);
    });
  };
  const connector = buildConnector({ timeout: 10_000, lookup: guardedLookup });
  return new Agent({
    connect: (target, callback) => {
      // An IP literal is connected to without a lookup: check it here.
      const host = target.hostname.replace(/^\[|\]$/g, "");
      if (isIP(host) !== 0 && isForbiddenAddress(host)) {
        return callback(new ForbiddenTargetError(`${target.hostname} is a forbidden address`), null);
      }
      return connector(target, callback);
    },
  });
}

export interface GuardedFetchOptions {
  timeoutMs: number;
  maxBytes: number;
  signal?: AbortSignal;
  agent: Agent;
  /** Origins fetched without the address check (a test's own file host; never user input). */
  trustedOrigins?: readonly string[];
}

/** GETs a URL through the guard, following at most 3 redirects, each checked again. */
export async function guardedFetchBytes(
  url: string,
  options: GuardedFetchOptions,
): Promise<{ bytes: Buffer; contentType?: string }> {
  const signal = AbortSignal.any([
    AbortSignal.timeout(options.timeoutMs),
    ...(options.signal ? [options.signal] : []),
  ]);
  const trusted = new Set((options.trustedOrigins ?? []).map((origin) => new URL(origin).origin));
  let target = new URL(url);
  for (let hop = 0; ; hop++) {
    if (target.protocol !== "http:" && target.protocol !== "https:")
      throw new FetchError("not an http(s) URL", { answered: true });
    let response: Awaited<ReturnType<typeof undiciFetch>>;
    try {
      response = await undiciFetch(target, {
        signal,
        redirect: "manual",
        headers: { "user-agent": "kie-sim" },
        ...(trusted.has(target.origin) ? {} : { dispatcher: options.agent }),
      });
    } catch (error) {
      throw failure(error, options.timeoutMs);
    }
    const location = response.headers.get("location");
    if (response.status >= 300 && response.status < 400 && location) {
      await response.body?.cancel().catch(() => {});
      if (hop >= MAX_REDIRECTS) throw new FetchError("too many redirects", { answered: true });
      target = new URL(location, target);
      continue;
    }
    return readCapped(response, options);
  }
}

async function readCapped(
  response: Awaited<ReturnType<typeof undiciFetch>>,
  options: GuardedFetchOptions,
): Promise<{ bytes: Buffer; contentType?: string }> {
  const tooBig = () => new FetchError(`larger than ${options.maxBytes} bytes`, { answered: true });
  if (!response.ok) {
    await response.body?.cancel().catch(() => {});
    throw new FetchError(`HTTP ${response.status}`, { answered: true });
  }
  if (Number(response.headers.get("content-length") ?? Number.NaN) > options.maxBytes) {
    await response.body?.cancel().catch(() => {});
    throw tooBig();
  }
  const chunks: Buffer[] = [];
  let total = 0;
  try {
    for await (const chunk of response.body ?? []) {
      total += chunk.length;
      if (total > options.maxBytes) {
        await response.body?.cancel().catch(() => {});
        throw tooBig();
      }
      chunks.push(Buffer.from(chunk));
    }
  } catch (error) {
    if (error instanceof FetchError) throw error;
    throw failure(error, options.timeoutMs);
  }
  return { bytes: Buffer.concat(chunks), contentType: response.headers.get("content-type") ?? undefined };
}

/** An error's message and its cause's, for the simulator's own log. */
export function describeError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause instanceof Error ? `: ${error.cause.message}` : "";
  return `${error.message}${cause}`;
}

/** One message for every way a download can fail on the network; the detail stays in `detail`. */
function failure(error: unknown, timeoutMs: number): FetchError {
  const detail = describeError(error);
  if (error instanceof Error && (error.name === "TimeoutError" || error.name === "AbortError")) {
    return new FetchError(`no complete answer within ${timeoutMs} ms`, { answered: false, detail });
  }
  return new FetchError("the download failed", { answered: false, detail });
}
