/**
 * The image proxy's outbound guard (DESIGN.md §6), in two layers:
 * 1. checkProxyUrl: before any connection, only https URLs to allowed host names pass (no literal
 *    IPs, no credentials, at most 2048 characters);
 * 2. createGuardedDispatcher: at connect time, the name is resolved here and refused if any address
 *    is loopback, private, link-local or otherwise not public — so an allowed name that resolves
 *    (or re-binds) to 127.0.0.1 or 169.254.169.254 is never connected to.
 * The one exception to both is the exact origin of the simulator the app started itself.
 */
import { lookup as dnsLookup, type LookupAddress } from "node:dns";
import { BlockList, isIP, type LookupFunction } from "node:net";
import { Agent, buildConnector } from "undici";
import { UnsafeUrlError } from "./errors";

export const MAX_PROXY_URL_LENGTH = 2048;

/** Special-purpose IPv4 ranges (IANA registry) that an image host never lives in. */
const FORBIDDEN_IPV4_RANGES: [string, number][] = [
  ["0.0.0.0", 8], // "this network", incl. the unspecified 0.0.0.0
  ["10.0.0.0", 8], // private
  ["100.64.0.0", 10], // carrier-grade NAT
  ["127.0.0.0", 8], // loopback
  ["169.254.0.0", 16], // link-local, incl. cloud metadata 169.254.169.254
  ["172.16.0.0", 12], // private
  ["192.0.0.0", 24], // IETF protocol assignments
  ["192.0.2.0", 24], // documentation (TEST-NET-1)
  ["192.88.99.0", 24], // 6to4 relay anycast (deprecated)
  ["192.168.0.0", 16], // private
  ["198.18.0.0", 15], // benchmarking
  ["198.51.100.0", 24], // documentation (TEST-NET-2)
  ["203.0.113.0", 24], // documentation (TEST-NET-3)
  ["224.0.0.0", 4], // multicast
  ["240.0.0.0", 4], // reserved, incl. broadcast 255.255.255.255
];

const FORBIDDEN_IPV4 = new BlockList();
for (const [network, prefix] of FORBIDDEN_IPV4_RANGES) FORBIDDEN_IPV4.addSubnet(network, prefix, "ipv4");

/**
 * True when `ip` must never be connected to: loopback, private, link-local, unique-local, CGNAT,
 * multicast, broadcast, documentation, benchmarking and reserved ranges, the unspecified address,
 * and IPv6 forms that embed a forbidden IPv4 address (IPv4-mapped, NAT64, 6to4). IPv6 is allowed
 * only in global unicast (2000::/3) minus its special-purpose blocks. Anything that is not an IP
 * address (or carries a zone id) is refused: what cannot be classified is not trusted.
 */
export function isForbiddenAddress(ip: string): boolean {
  const address = ip.startsWith("[") && ip.endsWith("]") ? ip.slice(1, -1) : ip;
  // A zone id (fe80::1%eth0) only means something for link-local and other scoped addresses.
  if (address.includes("%")) return true;
  const version = isIP(address);
  if (version === 4) return FORBIDDEN_IPV4.check(address, "ipv4");
  if (version === 6) {
    const groups = parseIPv6(address);
    // Stryker disable next-line ConditionalExpression: unreachable, parseIPv6 parses every address isIP calls IPv6 (its own refusals are tested directly)
    return groups === undefined || isForbiddenIPv6(groups);
  }
  return true;
}

/** The first six groups of the /96 prefixes whose last 32 bits are the IPv4 address connected to. */
const IPV4_TRANSLATION_PREFIXES: readonly (readonly number[])[] = [
  [0, 0, 0, 0, 0, 0xffff], // ::ffff:a.b.c.d, IPv4-mapped: the connection goes to a.b.c.d
  [0x64, 0xff9b, 0, 0, 0, 0], // 64:ff9b::a.b.c.d, NAT64 well-known prefix: a gateway forwards to a.b.c.d
];

function isForbiddenIPv6(g: number[]): boolean {
  const [g0 = 0, g1 = 0, g2 = 0, , , , g6 = 0, g7 = 0] = g;
  const embedded = (high: number, low: number) =>
    FORBIDDEN_IPV4.check(`${high >> 8}.${high & 0xff}.${low >> 8}.${low & 0xff}`, "ipv4");

  // IPv4-mapped or NAT64: judged by the IPv4 address reached, which may be public. Only an exact
  // /96 prefix qualifies; any other address falls to the IPv6 rules below.
  if (IPV4_TRANSLATION_PREFIXES.some((prefix) => prefix.every((group, i) => g[i] === group))) {
    return embedded(g6, g7);
  }
  // 2002:aabb:ccdd::/48 (6to4): a relay forwards to aa.bb.cc.dd.
  if (g0 === 0x2002 && embedded(g1, g2)) return true;

  // Outside global unicast: ::/96 (unspecified, loopback, deprecated IPv4-compatible), ::ffff:0:0:0/96,
  // 64:ff9b:1::/48, 100::/64 discard, fc00::/7 unique-local, fe80::/10 link-local, fec0::/10, ff00::/8…
  if ((g0 & 0xe000) !== 0x2000) return true;
  if (g0 === 0x2001 && g1 < 0x0200) return true; // 2001::/23 IETF protocol assignments (Teredo, benchmarking, ORCHID)
  if (g0 === 0x2001 && g1 === 0x0db8) return true; // documentation
  if ((g0 & 0xfff0) === 0x3ff0) return true; // 3fff::/20 documentation
  return false;
}

/**
 * The eight 16-bit groups of an IPv6 address (any case, `::`, a trailing dotted quad), or undefined
 * when the text is not one. Exported for its tests.
 */
export function parseIPv6(address: string): number[] | undefined {
  // Any case: parseInt reads hex digits in either.
  let text = address;
  // A trailing dotted quad (::ffff:1.2.3.4) becomes two hex groups (::ffff:102:304).
  const lastColon = text.lastIndexOf(":");
  const quad = text.slice(lastColon + 1);
  if (quad.includes(".")) {
    if (isIP(quad) !== 4) return undefined;
    const [a = 0, b = 0, c = 0, d = 0] = quad.split(".").map(Number);
    text = `${text.slice(0, lastColon + 1)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  const parse = (part: string) => (part === "" ? [] : part.split(":").map((h) => Number.parseInt(h, 16)));
  // Stryker disable next-line StringLiteral: split always returns a first element, the fallback is for the type checker
  const head = parse(halves[0] ?? "");
  const tail = parse(halves[1] ?? "");
  const missing = 8 - head.length - tail.length;
  if (missing < 0 || (halves.length === 1 && missing !== 0)) return undefined;
  const groups = [...head, ...new Array<number>(missing).fill(0), ...tail];
  // parseInt gives an integer or NaN, and NaN fails both comparisons.
  return groups.every((n) => n >= 0 && n <= 0xffff) ? groups : undefined;
}

export interface ProxyUrlPolicy {
  /** Host names (optionally `host:port`) the proxy may fetch from; exact, case-insensitive. */
  allowedHosts: readonly string[];
  /**
   * The exact origin of the simulator this process started (`http://127.0.0.1:<port>`). A URL on it
   * passes although it is http and a loopback IP. Never set from user input.
   */
  trustedOrigin?: string;
}

/** An allowed-host entry as URL.host would spell it (lower case, https's default port dropped). */
function normalizeAllowedHost(entry: string): string | undefined {
  const trimmed = entry.trim().toLowerCase();
  if (!/^[a-z0-9.-]+(:\d{1,5})?$/.test(trimmed)) return undefined;
  // A port above 65535 passes the pattern but not the URL parser.
  const url = `https://${trimmed}`;
  return URL.canParse(url) ? new URL(url).host : undefined;
}

/** The origin an operator configured, normalized; "null" origins (file:, data:) are never trusted. */
export function normalizeTrustedOrigin(origin: string | undefined): string | undefined {
  // Stryker disable next-line ConditionalExpression: new URL("") and new URL(undefined) throw, and the catch answers undefined too
  if (!origin) return undefined;
  if (!URL.canParse(origin)) return undefined;
  const normalized = new URL(origin).origin;
  return normalized === "null" ? undefined : normalized;
}

/**
 * True when the URL's authority has a user-info part, even an empty one. The authority is what
 * follows the scheme and any slashes (backslashes count as slashes for http(s), as in the WHATWG
 * parser) up to the next slash, backslash, `?` or `#`; an `@` in it ends the user info.
 */
function userInfoPresent(raw: string): boolean {
  // Stryker disable next-line Regex,StringLiteral: raw parsed as a URL and has no control characters, so it starts with its scheme (the leftmost match), and any replacement without "@", "/", "?" or "#" leaves the authority's "@" as it was
  const afterScheme = raw.replace(/^[a-z][a-z0-9+.-]*:[/\\]*/i, "");
  // Stryker disable next-line StringLiteral: split always returns a first element, the fallback is for the type checker
  const authority = afterScheme.split(/[/\\?#]/, 1)[0] ?? "";
  return authority.includes("@");
}

function isIpLiteral(hostname: string): boolean {
  // The WHATWG parser has already turned 2130706433, 0x7f.1, 0177.0.0.1 and 127.1 into 127.0.0.1.
  return hostname.startsWith("[") || isIP(hostname) !== 0;
}

/**
 * Parses and checks a URL the proxy is asked to fetch (and every redirect target). Returns the
 * parsed URL; throws UnsafeUrlError (→ 400) naming the reason. It does no DNS: names are checked
 * again at connect time by the guarded dispatcher.
 *
 * An allowed host without a port matches only https's default port; `host:8443` matches that port.
 */
export function checkProxyUrl(raw: string, policy: ProxyUrlPolicy): URL {
  // (An empty string fails the URL parser below, as malformed.)
  if (typeof raw !== "string") throw new UnsafeUrlError("malformed");
  if (raw.length > MAX_PROXY_URL_LENGTH) throw new UnsafeUrlError("too_long");
  // The URL parser silently drops tabs and newlines inside a URL; a URL that needs them is not one we want.
  // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
  if (/[\u0000-\u0020\u007f]/.test(raw)) throw new UnsafeUrlError("malformed");
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UnsafeUrlError("malformed");
  }
  // Read from the text: the parser drops an empty user info (`https://@host`, `https://:@host`).
  if (userInfoPresent(raw)) throw new UnsafeUrlError("credentials");

  const trustedOrigin = normalizeTrustedOrigin(policy.trustedOrigin);
  if (url.origin === trustedOrigin) return url; // url.origin is always a string

  if (url.protocol !== "https:") throw new UnsafeUrlError("scheme", url.protocol);
  if (isIpLiteral(url.hostname)) throw new UnsafeUrlError("ip_literal", url.hostname);
  const allowed = policy.allowedHosts.map(normalizeAllowedHost);
  if (!allowed.includes(url.host)) throw new UnsafeUrlError("host_not_allowed", url.host);
  return url;
}

export interface GuardedDispatcherOptions {
  /** See ProxyUrlPolicy.trustedOrigin: connections to exactly this origin are not checked. */
  trustedOrigin?: string;
  /** DNS resolution; node's dns.lookup by default. Tests inject one to simulate DNS rebinding. */
  lookup?: LookupFunction;
  connectTimeoutMs?: number;
  keepAliveTimeoutMs?: number;
}

/**
 * An undici Agent that resolves each host name itself and refuses to connect when any resolved
 * address is forbidden (isForbiddenAddress) — at connect time, so DNS rebinding after
 * checkProxyUrl gains nothing. Literal IP hosts (which skip DNS) are checked too. The refusal is an
 * UnsafeUrlError("forbidden_address"), found as the `cause` of fetch's TypeError.
 */
export function createGuardedDispatcher(options: GuardedDispatcherOptions = {}): Agent {
  const trustedOrigin = normalizeTrustedOrigin(options.trustedOrigin);
  const resolve: LookupFunction = options.lookup ?? (dnsLookup as LookupFunction);
  const connectOptions = { timeout: options.connectTimeoutMs ?? 10_000 };

  const guardedConnect = buildConnector({ ...connectOptions, lookup: guardLookup(resolve) });
  const trustedConnect = trustedOrigin ? buildConnector(connectOptions) : undefined;

  const connect: buildConnector.connector = (target, callback) => {
    if (trustedConnect && originOf(target) === trustedOrigin) return trustedConnect(target, callback);
    // An IP address is connected to directly, without a lookup: check it here.
    if (isIP(target.hostname) !== 0 && isForbiddenAddress(target.hostname)) {
      return callback(new UnsafeUrlError("forbidden_address", target.hostname), null);
    }
    return guardedConnect(target, callback);
  };

  return new Agent({ connect, keepAliveTimeout: options.keepAliveTimeoutMs ?? 10_000 });
}

/**
 * Wraps a DNS lookup so that a name resolving to any forbidden address (or to none) fails with
 * UnsafeUrlError("forbidden_address") instead of answering. Every address is asked for and checked,
 * also when the caller wants one.
 */
export function guardLookup(resolve: LookupFunction): LookupFunction {
  return (hostname, lookupOptions, callback) => {
    resolve(hostname, { ...lookupOptions, all: true }, (error, resolved) => {
      if (error) return callback(error, "");
      const addresses: LookupAddress[] = Array.isArray(resolved)
        ? resolved
        : typeof resolved === "string" && resolved !== ""
          ? [{ address: resolved, family: isIP(resolved) }]
          : [];
      // One forbidden address refuses the name: connecting to "the others" would still let an
      // attacker steer us by answering with a mix.
      const forbidden = addresses.find((entry) => isForbiddenAddress(entry.address));
      if (addresses.length === 0 || forbidden) {
        return callback(
          new UnsafeUrlError(
            "forbidden_address",
            `${hostname} resolved to ${forbidden?.address ?? "no address"}`,
          ),
          "",
        );
      }
      if (lookupOptions.all) return callback(null, addresses);
      const [first] = addresses as [LookupAddress];
      return callback(null, first.address, first.family);
    });
  };
}

function originOf(target: buildConnector.Options): string | undefined {
  const host = isIP(target.hostname) === 6 ? `[${target.hostname}]` : target.hostname;
  const url = `${target.protocol}//${host}${target.port ? `:${target.port}` : ""}`;
  // Stryker disable next-line ConditionalExpression: undici's target comes from a parsed URL, so this parses (the check keeps a surprise from throwing inside connect)
  return URL.canParse(url) ? new URL(url).origin : undefined;
}
