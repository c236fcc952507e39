import type { LookupAddress } from "node:dns";
import type { LookupFunction } from "node:net";
import { describe, expect, it } from "vitest";
import { classifyError } from "@/lib/http/errors";
import { checkProxyUrl, isForbiddenAddress, UnsafeUrlError, type UnsafeUrlReason } from "@/lib/security";
import { guardLookup, parseIPv6 } from "@/lib/security/urlGuard";

describe("isForbiddenAddress", () => {
  const forbidden: [string, string][] = [
    ["127.0.0.1", "IPv4 loopback"],
    ["127.255.255.254", "anywhere in 127/8"],
    ["10.0.0.1", "private 10/8"],
    ["172.16.0.1", "private 172.16/12 (start)"],
    ["172.31.255.255", "private 172.16/12 (end)"],
    ["192.168.1.1", "private 192.168/16"],
    ["169.254.169.254", "cloud metadata (link-local)"],
    ["169.254.0.1", "link-local"],
    ["0.0.0.0", "unspecified"],
    ["0.1.2.3", "this network 0/8"],
    ["100.64.0.1", "carrier-grade NAT (start)"],
    ["100.127.255.255", "carrier-grade NAT (end)"],
    ["224.0.0.1", "multicast"],
    ["239.255.255.250", "multicast (SSDP)"],
    ["255.255.255.255", "broadcast"],
    ["240.0.0.1", "reserved"],
    ["192.0.0.8", "IETF protocol assignments"],
    ["192.0.2.10", "TEST-NET-1"],
    ["198.51.100.7", "TEST-NET-2"],
    ["203.0.113.9", "TEST-NET-3"],
    ["198.18.0.1", "benchmarking"],
    ["192.88.99.1", "6to4 relay anycast"],
    ["::1", "IPv6 loopback"],
    ["0:0:0:0:0:0:0:1", "IPv6 loopback, long form"],
    ["::", "IPv6 unspecified"],
    ["[::1]", "IPv6 loopback in brackets"],
    ["fe80::1", "IPv6 link-local"],
    ["febf:ffff::1", "IPv6 link-local (end of fe80::/10)"],
    ["fe80::1%eth0", "IPv6 link-local with a zone id"],
    ["fc00::1", "unique-local fc00::/7"],
    ["fd12:3456:789a::1", "unique-local fd00::/8"],
    ["fec0::1", "deprecated site-local"],
    ["ff02::1", "IPv6 multicast"],
    ["::ffff:127.0.0.1", "IPv4-mapped loopback (dotted)"],
    ["::ffff:7f00:1", "IPv4-mapped loopback (hex)"],
    ["::ffff:a9fe:a9fe", "IPv4-mapped cloud metadata"],
    ["::ffff:10.0.0.1", "IPv4-mapped private"],
    ["0:0:0:0:0:ffff:c0a8:0101", "IPv4-mapped 192.168.1.1, long form"],
    ["::127.0.0.1", "IPv4-compatible loopback (deprecated)"],
    ["::7f00:1", "IPv4-compatible loopback in hex"],
    ["::8.8.8.8", "IPv4-compatible public (deprecated form, refused)"],
    ["64:ff9b::7f00:1", "NAT64 of 127.0.0.1"],
    ["64:ff9b::10.1.2.3", "NAT64 of a private address"],
    ["64:ff9b:1::1", "local-use NAT64 prefix"],
    ["2002:7f00:1::1", "6to4 of 127.0.0.1"],
    ["2002:a9fe:a9fe::", "6to4 of the metadata address"],
    ["2002:c0a8:0101::1", "6to4 of 192.168.1.1"],
    ["2001:db8::1", "IPv6 documentation"],
    ["3fff::1", "IPv6 documentation 3fff::/20"],
    ["2001::1", "Teredo"],
    ["2001:2::1", "IPv6 benchmarking"],
    ["100::1", "IPv6 discard-only"],
    ["5f00::1", "SRv6 SIDs, outside global unicast"],
    ["localhost", "not an IP address"],
    ["", "empty"],
    ["127.1", "shorthand (not an IP to node; refused)"],
    ["2130706433", "integer form (not an IP to node; refused)"],
  ];

  it.each(forbidden)("refuses %s (%s)", (ip) => {
    expect(isForbiddenAddress(ip)).toBe(true);
  });

  const allowed: [string, string][] = [
    ["8.8.8.8", "public IPv4"],
    ["1.1.1.1", "public IPv4"],
    ["172.15.255.255", "just below 172.16/12"],
    ["172.32.0.1", "just above 172.16/12"],
    ["100.63.255.255", "just below CGNAT"],
    ["100.128.0.1", "just above CGNAT"],
    ["169.253.255.255", "just below link-local"],
    ["11.0.0.1", "just above 10/8"],
    ["223.255.255.255", "just below multicast"],
    ["2606:4700:4700::1111", "public IPv6"],
    ["2a00:1450:4001:80b::200e", "public IPv6"],
    ["::ffff:8.8.8.8", "IPv4-mapped public"],
    ["64:ff9b::808:808", "NAT64 of a public address"],
    ["2002:808:808::1", "6to4 of a public address"],
    ["2001:4860:4860::8888", "public IPv6 under 2001::/16 but outside 2001::/23"],
  ];

  it.each(allowed)("allows %s (%s)", (ip) => {
    expect(isForbiddenAddress(ip)).toBe(false);
  });
});

describe("checkProxyUrl", () => {
  const policy = { allowedHosts: ["tempfile.aiquickdraw.com", "images.example.com:8443"] };

  function reasonFor(
    raw: string,
    p: Parameters<typeof checkProxyUrl>[1] = policy,
  ): UnsafeUrlReason | "accepted" {
    try {
      checkProxyUrl(raw, p);
      return "accepted";
    } catch (error) {
      if (error instanceof UnsafeUrlError) return error.reason;
      throw error;
    }
  }

  it("accepts https on an allowed host, case-insensitively, and returns the parsed URL", () => {
    const url = checkProxyUrl("https://TempFile.AIQuickDraw.com/workers/nano/a.png?x=1", policy);
    expect(url.href).toBe("https://tempfile.aiquickdraw.com/workers/nano/a.png?x=1");
    expect(reasonFor("https://tempfile.aiquickdraw.com:443/a.png")).toBe("accepted");
    expect(reasonFor("https://images.example.com:8443/a.png")).toBe("accepted");
  });

  it.each([
    ["http://tempfile.aiquickdraw.com/a.png", "scheme"],
    ["file:///etc/passwd", "scheme"],
    ["ftp://tempfile.aiquickdraw.com/a.png", "scheme"],
    ["data:image/png;base64,iVBORw0KGgo=", "scheme"],
    ["javascript:alert(1)", "scheme"],
    ["gopher://tempfile.aiquickdraw.com:70/_GET", "scheme"],
    ["ws://tempfile.aiquickdraw.com/a.png", "scheme"],
  ] as const)("refuses a non-https scheme: %s", (raw, reason) => {
    expect(reasonFor(raw)).toBe(reason);
  });

  it.each([
    "https://127.0.0.1/a.png",
    "https://10.0.0.5/a.png",
    "https://192.168.0.1/a.png",
    "https://169.254.169.254/latest/meta-data/",
    "https://2130706433/a.png", // 127.0.0.1 as one integer
    "https://0x7f000001/a.png", // …in hex
    "https://0x7f.1/a.png", // …hex, short form
    "https://0177.0.0.1/a.png", // …octal
    "https://127.1/a.png", // …short form
    "https://[::1]/a.png",
    "https://[::ffff:127.0.0.1]/a.png",
    "https://[::ffff:7f00:1]/a.png",
    "https://[fe80::1]/a.png",
    "https://8.8.8.8/a.png", // even a public one: only names are allowed
  ])("refuses a literal IP in any encoding: %s", (raw) => {
    expect(reasonFor(raw)).toBe("ip_literal");
  });

  it.each([
    "https://localhost/a.png",
    "https://evil.example/a.png",
    "https://tempfile.aiquickdraw.com.evil.example/a.png",
    "https://eviltempfile.aiquickdraw.com/a.png",
    "https://sub.tempfile.aiquickdraw.com/a.png",
    "https://tempfile.aiquickdraw.com./a.png", // trailing dot: not the exact name
    "https://tempfile.aiquickdraw.com:8443/a.png", // allowed host, other port
    "https://images.example.com/a.png", // allowed only on :8443
  ])("refuses a host not on the list: %s", (raw) => {
    expect(reasonFor(raw)).toBe("host_not_allowed");
  });

  it("refuses credentials in the URL", () => {
    expect(reasonFor("https://user:secret@tempfile.aiquickdraw.com/a.png")).toBe("credentials");
    expect(reasonFor("https://user@tempfile.aiquickdraw.com/a.png")).toBe("credentials");
    // The classic confusion: the host is evil.example, "tempfile…" is a user name.
    expect(reasonFor("https://tempfile.aiquickdraw.com@evil.example/a.png")).toBe("credentials");
  });

  it("refuses URLs over 2048 characters, and accepts one of exactly 2048", () => {
    const base = "https://tempfile.aiquickdraw.com/";
    expect(reasonFor(base + "a".repeat(2048 - base.length))).toBe("accepted");
    expect(reasonFor(base + "a".repeat(2049 - base.length))).toBe("too_long");
  });

  it.each([
    ["", "malformed"],
    ["not a url", "malformed"],
    ["//tempfile.aiquickdraw.com/a.png", "malformed"],
    ["https://tempfile.aiquickdraw.com/a\n.png", "malformed"],
    ["https://tempfile.aiquickdraw.com\t.evil.example/", "malformed"],
    ["https://[::1/a.png", "malformed"],
  ] as const)("refuses a malformed URL %j", (raw, reason) => {
    expect(reasonFor(raw)).toBe(reason);
  });

  it("is a 400 invalid_request with a message that does not echo the URL", () => {
    let caught: unknown;
    try {
      checkProxyUrl("https://169.254.169.254/latest/meta-data/iam", policy);
    } catch (error) {
      caught = error;
    }
    expect(classifyError(caught)).toMatchObject({ status: 400, code: "invalid_request" });
    expect((caught as Error).message).not.toContain("169.254");
  });

  describe("the trusted simulator origin", () => {
    const trusted = { allowedHosts: [], trustedOrigin: "http://127.0.0.1:4010" };

    it("passes exactly that origin, although it is http and a loopback IP", () => {
      expect(reasonFor("http://127.0.0.1:4010/images/a.png", trusted)).toBe("accepted");
      expect(reasonFor("http://2130706433:4010/images/a.png", trusted)).toBe("accepted"); // same origin once parsed
    });

    it("passes nothing else on that machine", () => {
      expect(reasonFor("http://127.0.0.1:4011/a.png", trusted)).toBe("scheme");
      expect(reasonFor("https://127.0.0.1:4010/a.png", trusted)).toBe("ip_literal");
      expect(reasonFor("http://localhost:4010/a.png", trusted)).toBe("scheme");
      expect(reasonFor("http://[::1]:4010/a.png", trusted)).toBe("scheme");
    });

    it("still refuses credentials on the trusted origin", () => {
      expect(reasonFor("http://user:pw@127.0.0.1:4010/a.png", trusted)).toBe("credentials");
    });

    it("ignores a trusted origin that has none (data:, file:)", () => {
      expect(reasonFor("data:text/html,hi", { allowedHosts: [], trustedOrigin: "data:text/html,x" })).toBe(
        "scheme",
      );
      expect(reasonFor("file:///etc/passwd", { allowedHosts: [], trustedOrigin: "file:///" })).toBe("scheme");
    });
  });
});

describe("userinfo in the URL (gap 2)", () => {
  const policy = { allowedHosts: ["tempfile.aiquickdraw.com"] };
  const reason = (raw: string) => {
    try {
      checkProxyUrl(raw, policy);
      return "accepted";
    } catch (error) {
      if (error instanceof UnsafeUrlError) return error.reason;
      throw error;
    }
  };

  it.each([
    "https://:secret@tempfile.aiquickdraw.com/a.png", // a password without a user name
    "https://:@tempfile.aiquickdraw.com/a.png", // empty credentials: the parser drops them silently
    "https://@tempfile.aiquickdraw.com/a.png",
    "https:user@tempfile.aiquickdraw.com/a.png", // no slashes: still an authority for https
    "https:\\\\user@tempfile.aiquickdraw.com/a.png", // backslashes count as slashes for https
  ])("refuses %s", (raw) => {
    expect(reason(raw)).toBe("credentials");
  });

  it("accepts an @ after the authority (path, query, fragment)", () => {
    expect(reason("https://tempfile.aiquickdraw.com/a@2x.png")).toBe("accepted");
    expect(reason("https://tempfile.aiquickdraw.com/a.png?by=me@example.com")).toBe("accepted");
    expect(reason("https://tempfile.aiquickdraw.com/a.png#me@x")).toBe("accepted");
    expect(reason("https://tempfile.aiquickdraw.com\\a@2x.png")).toBe("accepted");
  });
});

describe("IPv6 forms that embed an IPv4 address (gap 3)", () => {
  // Only the exact IPv4-mapped (::ffff:0:0/96) and NAT64 (64:ff9b::/96) prefixes are judged by the
  // embedded address. Any other bit set in the first 96 makes it a different address, which the
  // IPv6 rules judge — here, a public IPv4 in the low bits must not make it allowed.
  it.each([
    "fe80::ffff:8.8.8.8",
    "fc00:ff9b::808:808",
    "1::ffff:808:808",
    "0:1::ffff:808:808",
    "0:0:1::ffff:808:808",
    "0:0:0:1::ffff:808:808",
    "0:0:0:0:1:ffff:808:808",
    "::fffe:808:808",
    "::ffff:0:808:808",
    "65:ff9b::808:808",
    "64:ff9a::808:808",
    "64:ff9b:1::808:808",
    "64:ff9b:0:1::808:808",
    "64:ff9b::1:0:0:808:808",
    "64:ff9b::1:0:808:808",
    "64:ff9b::1:808:808",
  ])("refuses %s", (ip) => {
    expect(isForbiddenAddress(ip)).toBe(true);
  });

  it("judges 6to4 by both groups of its embedded address", () => {
    expect(isForbiddenAddress("2002:808:808::1")).toBe(false);
    expect(isForbiddenAddress("2002:7f00:808::1")).toBe(true); // 127.0.8.8
    expect(isForbiddenAddress("2002:a9fe:a9fe::1")).toBe(true); // 169.254.169.254
    expect(isForbiddenAddress("2003:7f00:1::1")).toBe(false); // not 6to4: a public 2000::/3 address
  });
});

describe("guardLookup: the connect-time DNS check (gap 1)", () => {
  type Answer = { error?: NodeJS.ErrnoException; resolved?: string | LookupAddress[] };
  /** A DNS that answers `answer` for every name, and records the options it was asked with. */
  function fakeDns(answer: Answer) {
    const asked: unknown[] = [];
    const lookup = ((_hostname: string, options: unknown, callback: (...args: unknown[]) => void) => {
      asked.push(options);
      callback(answer.error ?? null, answer.resolved ?? [], 4);
    }) as unknown as LookupFunction;
    return { lookup, asked };
  }
  function run(answer: Answer, all: boolean) {
    const dns = fakeDns(answer);
    return new Promise<{ error: unknown; address: unknown; family: unknown; asked: unknown[] }>((resolve) =>
      guardLookup(dns.lookup)("images.example.com", { all }, (error, address, family) =>
        resolve({ error, address, family, asked: dns.asked }),
      ),
    );
  }
  const publicV4 = { address: "8.8.8.8", family: 4 };
  const publicV6 = { address: "2606:4700:4700::1111", family: 6 };

  it("passes a public answer on, all of it or the first address", async () => {
    const all = await run({ resolved: [publicV4, publicV6] }, true);
    expect(all.error).toBeNull();
    expect(all.address).toEqual([publicV4, publicV6]);
    expect(all.asked).toEqual([{ all: true }]);
    const first = await run({ resolved: [publicV6, publicV4] }, false);
    expect(first).toMatchObject({ error: null, address: publicV6.address, family: 6 });
    // Asked for every address even when the caller wants one: each must be checked.
    expect(first.asked).toEqual([{ all: true }]);
  });

  it("accepts a resolver that answers one address as a string", async () => {
    expect(await run({ resolved: "8.8.4.4" }, false)).toMatchObject({
      error: null,
      address: "8.8.4.4",
      family: 4,
    });
  });

  it.each([
    ["a forbidden address", [{ address: "127.0.0.1", family: 4 }], "127.0.0.1"],
    ["one forbidden address among public ones", [publicV4, { address: "::1", family: 6 }], "::1"],
    ["no address at all", [], "no address"],
    ["an empty string", "", "no address"],
  ] as const)("refuses %s", async (_why, resolved, named) => {
    for (const all of [true, false]) {
      const result = await run({ resolved: resolved as string | LookupAddress[] }, all);
      expect(result.error).toBeInstanceOf(UnsafeUrlError);
      expect(result.error).toMatchObject({ reason: "forbidden_address" });
      expect((result.error as UnsafeUrlError).detail).toBe(`images.example.com resolved to ${named}`);
      expect(result.address).toBe("");
    }
  });

  it("passes a DNS failure on unchanged", async () => {
    const failure = Object.assign(new Error("getaddrinfo ENOTFOUND"), { code: "ENOTFOUND" });
    const result = await run({ error: failure }, true);
    expect(result.error).toBe(failure);
    expect(result.address).toBe("");
  });
});

describe("the edges of every forbidden IPv4 range", () => {
  // First and last address of each range refused, the neighbours outside allowed: a range that is
  // one bit too narrow or too wide fails here.
  const edges: [string, string, string, string][] = [
    // [just below, first, last, just above] ("-" where the neighbour is itself forbidden)
    ["-", "0.0.0.0", "0.255.255.255", "1.0.0.0"],
    ["9.255.255.255", "10.0.0.0", "10.255.255.255", "11.0.0.0"],
    ["100.63.255.255", "100.64.0.0", "100.127.255.255", "100.128.0.0"],
    ["126.255.255.255", "127.0.0.0", "127.255.255.255", "128.0.0.0"],
    ["169.253.255.255", "169.254.0.0", "169.254.255.255", "169.255.0.0"],
    ["172.15.255.255", "172.16.0.0", "172.31.255.255", "172.32.0.0"],
    ["191.255.255.255", "192.0.0.0", "192.0.0.255", "192.0.1.0"],
    ["192.0.1.255", "192.0.2.0", "192.0.2.255", "192.0.3.0"],
    ["192.88.98.255", "192.88.99.0", "192.88.99.255", "192.88.100.0"],
    ["192.167.255.255", "192.168.0.0", "192.168.255.255", "192.169.0.0"],
    ["198.17.255.255", "198.18.0.0", "198.19.255.255", "198.20.0.0"],
    ["198.51.99.255", "198.51.100.0", "198.51.100.255", "198.51.101.0"],
    ["203.0.112.255", "203.0.113.0", "203.0.113.255", "203.0.114.0"],
    ["223.255.255.255", "224.0.0.0", "239.255.255.255", "-"],
    ["-", "240.0.0.0", "255.255.255.255", "-"],
  ];
  it.each(edges)("below %s allowed, %s to %s refused, %s allowed", (below, first, last, above) => {
    expect(isForbiddenAddress(first)).toBe(true);
    expect(isForbiddenAddress(last)).toBe(true);
    if (below !== "-") expect(isForbiddenAddress(below)).toBe(false);
    if (above !== "-") expect(isForbiddenAddress(above)).toBe(false);
    // The same address embedded in IPv6 (mapped, NAT64, 6to4) is judged the same way.
    const [a, b, c, d] = first.split(".").map(Number) as [number, number, number, number];
    const hex = `${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
    expect(isForbiddenAddress(`::ffff:${first}`)).toBe(true);
    expect(isForbiddenAddress(`64:ff9b::${hex}`)).toBe(true);
    expect(isForbiddenAddress(`2002:${hex}::1`)).toBe(true);
  });
});

describe("the edges of the IPv6 rules and of the bracket form (issue 17)", () => {
  it.each([
    ["[2606:4700:4700::1111]", "a public IPv6 address in brackets, as a URL host spells it"],
    ["2606:4700:4700:0:0:0:0:1111", "a public IPv6 address written out in full, no ::"],
    ["2606:4700:4700::1111", "the same, shortened"],
    ["2001:200::1", "2001:200::/23 is just past the IETF block 2001::/23"],
    ["2600:1::1", "a small second group outside 2001::/16"],
    ["2600:db8::1", "db8 in the second group outside 2001::/16"],
    ["2606:4700:4700::1111".toUpperCase(), "upper-case hex"],
    ["::FFFF:8.8.8.8", "IPv4-mapped public, upper case"],
  ])("allows %s (%s)", (ip) => {
    expect(isForbiddenAddress(ip)).toBe(false);
  });

  it.each([
    ["x2606:4700:4700::1111]", "a closing bracket without the opening one"],
    ["[2606:4700:4700::11111", "an opening bracket without the closing one"],
    ["2606:4700:4700::1111g", "hex followed by a non-hex letter (parseInt would stop before it)"],
    ["::FFFF:7F00:1", "IPv4-mapped loopback, upper case"],
    ["2001:1ff::1", "the end of 2001::/23"],
  ])("refuses %s (%s)", (ip) => {
    expect(isForbiddenAddress(ip)).toBe(true);
  });
});

describe("parseIPv6: what it answers for text that is no IPv6 address", () => {
  it.each([
    ["1:2:3:4:5:6:7:8", [1, 2, 3, 4, 5, 6, 7, 8]],
    ["1::8", [1, 0, 0, 0, 0, 0, 0, 8]],
    ["::", [0, 0, 0, 0, 0, 0, 0, 0]],
    ["::ffff:1.2.3.4", [0, 0, 0, 0, 0, 0xffff, 0x102, 0x304]],
    ["FFFF::A", [0xffff, 0, 0, 0, 0, 0, 0, 10]],
  ])("%s → its eight groups", (text, groups) => {
    expect(parseIPv6(text)).toEqual(groups);
  });

  it.each([
    ["::ffff:1.2.3", "a dotted quad with three parts"],
    ["1::2::3", "two ::"],
    ["1:2:3", "too few groups without ::"],
    ["1:2:3:4:5:6:7:8:9", "nine groups"],
    ["1::2:3:4:5:6:7:8:9", "nine groups with ::"],
    ["1::g", "a group that is not hex"],
    ["1::10000", "a group above ffff"],
    ["1::-1", "a negative group"],
    ["", "nothing"],
  ])("%s → undefined (%s)", (text) => {
    expect(parseIPv6(text)).toBeUndefined();
  });
});

describe("checkProxyUrl: its inputs at the edges (issue 17)", () => {
  const reasonFor = (raw: unknown, policy: Parameters<typeof checkProxyUrl>[1]) => {
    try {
      checkProxyUrl(raw as string, policy);
      return "accepted";
    } catch (error) {
      if (error instanceof UnsafeUrlError) return error.reason;
      throw error;
    }
  };
  const policy = { allowedHosts: ["tempfile.aiquickdraw.com"] };

  it("refuses a missing URL (the route's searchParams.get gives null) as malformed, not a crash", () => {
    expect(reasonFor(null, policy)).toBe("malformed");
    expect(reasonFor(undefined, policy)).toBe("malformed");
    expect(reasonFor(42, policy)).toBe("malformed");
  });

  it("reads allowed hosts trimmed and in any case", () => {
    expect(
      reasonFor("https://tempfile.aiquickdraw.com/a.png", { allowedHosts: [" TempFile.AIQuickDraw.com "] }),
    ).toBe("accepted");
  });

  it.each([
    ["x@tempfile.aiquickdraw.com", "user info"],
    ["tempfile.aiquickdraw.com/path", "a path"],
    ["https://tempfile.aiquickdraw.com", "a scheme"],
    ["tempfile.aiquickdraw.com:99999", "a port above 65535"],
  ])("ignores an allowed-host entry that is no host: %s (%s)", (entry) => {
    expect(reasonFor("https://tempfile.aiquickdraw.com/a.png", { allowedHosts: [entry] })).toBe(
      "host_not_allowed",
    );
    expect(reasonFor("https://tempfile.aiquickdraw.com:99999/a.png", { allowedHosts: [entry] })).toBe(
      "malformed",
    );
  });

  it("ignores a trusted origin that is no URL", () => {
    expect(reasonFor("http://127.0.0.1:4010/a.png", { allowedHosts: [], trustedOrigin: "not a url" })).toBe(
      "scheme",
    );
    expect(reasonFor("http://127.0.0.1:4010/a.png", { allowedHosts: [], trustedOrigin: "" })).toBe("scheme");
  });
});

describe("guardLookup: a resolver that answers nothing", () => {
  it("refuses an undefined answer as no address", async () => {
    const lookup = ((_hostname: string, _options: unknown, callback: (...args: unknown[]) => void) =>
      callback(null, undefined, 4)) as unknown as LookupFunction;
    for (const all of [true, false]) {
      const error = await new Promise((resolve) =>
        guardLookup(lookup)("images.example.com", { all }, (e) => resolve(e)),
      );
      expect(error).toMatchObject({
        reason: "forbidden_address",
        detail: "images.example.com resolved to no address",
      });
    }
  });
});
