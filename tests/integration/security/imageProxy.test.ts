/**
 * fetchProxiedImage and the guarded dispatcher against real HTTP servers on 127.0.0.1.
 *
 * `upstream` plays the simulator the app trusts (its exact origin is the trustedOrigin), so the
 * allowed path can be exercised locally; `victim` stands for everything internal an attacker would
 * like the proxy to reach. Production defaults stay strict: nothing here relaxes them, the tests
 * inject a DNS lookup to play "an allowed name that resolves to 127.0.0.1".
 */
import type { LookupFunction } from "node:net";
import { fetch } from "undici";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { classifyError } from "@/lib/http/errors";
import {
  createGuardedDispatcher,
  type FetchProxiedImageOptions,
  fetchProxiedImage,
  PROXY_REQUEST_HEADERS,
  ProxyUpstreamError,
  UnsafeUrlError,
  UnsupportedMediaTypeError,
} from "@/lib/security";
import { HTML, makeImage, SVG, TEXT } from "../../unit/security/fixtures";
import { startTestServer, type TestServer } from "./testServer";

const MiB = 1024 * 1024;

let png: Buffer;
let jpeg: Buffer;
let gif: Buffer;
let upstream: TestServer;
let victim: TestServer;

beforeAll(async () => {
  [png, jpeg, gif] = await Promise.all([makeImage("png"), makeImage("jpeg"), makeImage("gif")]);

  victim = await startTestServer((_request, response) => {
    response.writeHead(200, { "content-type": "image/png" }).end(png);
  });

  upstream = await startTestServer((request, response) => {
    const url = new URL(request.url ?? "/", "http://upstream");
    const send = (body: Buffer, type = "image/png") =>
      response.writeHead(200, { "content-type": type, "content-length": body.byteLength }).end(body);
    const redirect = url.pathname.match(/^\/redirect\/(\d+)$/);
    if (redirect) {
      const left = Number(redirect[1]);
      if (left === 0) return send(png);
      // Relative Location, as many servers send.
      return response.writeHead(302, { location: `/redirect/${left - 1}` }).end();
    }
    switch (url.pathname) {
      case "/image.png":
        return send(png);
      case "/photo-labelled-html":
        return send(jpeg, "text/html");
      case "/chunked.png":
        response.writeHead(200, { "content-type": "image/png" });
        return response.end(png);
      case "/redirect-to":
        return response.writeHead(302, { location: url.searchParams.get("location") ?? "" }).end();
      case "/redirect-without-location":
        return response.writeHead(302).end();
      case "/large-declared":
        response.writeHead(200, { "content-type": "image/png", "content-length": 2 * MiB });
        return response.end(Buffer.concat([png, Buffer.alloc(2 * MiB - png.byteLength)]));
      case "/large-chunked": {
        response.writeHead(200, { "content-type": "image/png" });
        response.write(png);
        for (let sent = 0; sent < 2 * MiB; sent += 64 * 1024) response.write(Buffer.alloc(64 * 1024));
        return response.end();
      }
      case "/hang":
        return; // never answers
      case "/stall":
        // A valid head, then silence.
        response.writeHead(200, { "content-type": "image/png" });
        response.write(Buffer.concat([png, Buffer.alloc(8192)]));
        return;
      case "/text":
        return send(TEXT);
      case "/html":
        return send(HTML);
      case "/svg":
        return send(SVG, "image/svg+xml");
      case "/gif":
        return send(gif, "image/gif");
      case "/empty":
        return send(Buffer.alloc(0));
      case "/status/404":
        return response.writeHead(404, { "content-type": "text/plain" }).end("gone");
      case "/status/500":
        return response.writeHead(500, { "content-type": "text/plain" }).end("boom");
      default:
        return response.writeHead(404).end();
    }
  });
});

afterAll(async () => {
  await upstream?.close();
  await victim?.close();
});

beforeEach(() => {
  upstream.requests.length = 0;
  victim.requests.length = 0;
});

function trusted(extra: Partial<FetchProxiedImageOptions> = {}): FetchProxiedImageOptions {
  return { allowedHosts: [], trustedOrigin: upstream.origin, ...extra };
}

async function bytesOf(stream: ReadableStream<Uint8Array>): Promise<Buffer> {
  return Buffer.from(await new Response(stream).arrayBuffer());
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error("expected a refusal");
    },
    (error: unknown) => error,
  );
}

/** A DNS that answers every name with `addresses` and records what it was asked. */
function fakeDns(addresses: { address: string; family: number }[]) {
  const asked: string[] = [];
  const lookup = ((hostname: string, options: { all?: boolean }, callback: (...args: unknown[]) => void) => {
    asked.push(hostname);
    const [first] = addresses;
    if (options.all) callback(null, addresses);
    else callback(null, first?.address, first?.family);
  }) as unknown as LookupFunction;
  return { lookup, asked };
}

describe("fetchProxiedImage: the allowed path (trusted simulator origin)", () => {
  it("streams the image with its sniffed type and length", async () => {
    const image = await fetchProxiedImage(`${upstream.origin}/image.png`, trusted());
    expect(image.contentType).toBe("image/png");
    expect(image.contentLength).toBe(png.byteLength);
    expect((await bytesOf(image.body)).equals(png)).toBe(true);
  });

  it("trusts the bytes, not the upstream's Content-Type", async () => {
    const image = await fetchProxiedImage(`${upstream.origin}/photo-labelled-html`, trusted());
    expect(image.contentType).toBe("image/jpeg");
    expect((await bytesOf(image.body)).equals(jpeg)).toBe(true);
  });

  it("streams a body without Content-Length", async () => {
    const image = await fetchProxiedImage(`${upstream.origin}/chunked.png`, trusted());
    expect(image.contentLength).toBeUndefined();
    expect((await bytesOf(image.body)).equals(png)).toBe(true);
  });

  it("sends only its own small header set: no cookie, authorization or referer", async () => {
    const image = await fetchProxiedImage(`${upstream.origin}/redirect/1`, trusted());
    await bytesOf(image.body);
    expect(upstream.requests.map((r) => r.path)).toEqual(["/redirect/1", "/redirect/0"]);
    for (const { headers } of upstream.requests) {
      expect(headers.cookie).toBeUndefined();
      expect(headers.authorization).toBeUndefined();
      expect(headers["proxy-authorization"]).toBeUndefined();
      expect(headers.referer).toBeUndefined();
      expect(headers["user-agent"]).toBe(PROXY_REQUEST_HEADERS["user-agent"]);
      expect(headers["accept-encoding"]).toBe("identity");
    }
  });
});

describe("fetchProxiedImage: refused URLs make no request at all", () => {
  const refused = () => [
    `http://127.0.0.1:${victim.port}/a.png`,
    `http://2130706433:${victim.port}/a.png`,
    `http://0x7f.1:${victim.port}/a.png`,
    `http://0177.0.0.1:${victim.port}/a.png`,
    `http://127.1:${victim.port}/a.png`,
    `http://[::1]:${victim.port}/a.png`,
    `https://127.0.0.1:${victim.port}/a.png`,
    `https://localhost:${victim.port}/a.png`,
    `http://localhost:${victim.port}/a.png`,
    "https://169.254.169.254/latest/meta-data/",
    `file:///etc/passwd`,
    `http://user:pw@127.0.0.1:${upstream.port}/image.png`, // the trusted origin, with credentials
    `${upstream.origin}/${"a".repeat(2100)}`, // the trusted origin, too long
  ];

  it("refuses each with UnsafeUrlError and no server sees a connection", async () => {
    const upstreamConnections = upstream.connections();
    for (const url of refused()) {
      const error = await rejection(fetchProxiedImage(url, trusted()));
      expect(error, url).toBeInstanceOf(UnsafeUrlError);
      expect(classifyError(error).status).toBe(400);
    }
    expect(victim.connections()).toBe(0);
    expect(upstream.connections()).toBe(upstreamConnections);
    expect(upstream.requests).toHaveLength(0);
  });
});

describe("fetchProxiedImage: redirects", () => {
  const via = (location: string) => `${upstream.origin}/redirect-to?location=${encodeURIComponent(location)}`;

  it.each([
    ["loopback over http", () => `http://127.0.0.1:${victim.port}/a.png`, "scheme"],
    ["loopback over https", () => `https://127.0.0.1:${victim.port}/a.png`, "ip_literal"],
    ["an integer-encoded loopback", () => `https://2130706433:${victim.port}/a.png`, "ip_literal"],
    ["IPv6 loopback", () => `https://[::1]:${victim.port}/a.png`, "ip_literal"],
    ["the metadata service", () => "http://169.254.169.254/latest/meta-data/", "scheme"],
    ["a private address", () => "https://10.0.0.1/a.png", "ip_literal"],
    ["a host not on the list", () => "https://evil.example/a.png", "host_not_allowed"],
    ["a file: URL", () => "file:///etc/passwd", "scheme"],
  ])("refuses a redirect to %s, re-checking the Location", async (_label, target, reason) => {
    const error = await rejection(fetchProxiedImage(via(target()), trusted()));
    expect(error).toBeInstanceOf(UnsafeUrlError);
    expect(error).toMatchObject({ reason });
    expect(victim.connections()).toBe(0);
  });

  it("follows up to 3 redirects", async () => {
    const image = await fetchProxiedImage(`${upstream.origin}/redirect/3`, trusted());
    expect((await bytesOf(image.body)).equals(png)).toBe(true);
    expect(upstream.requests).toHaveLength(4);
  });

  it("stops at the 4th redirect without following it", async () => {
    const error = await rejection(fetchProxiedImage(`${upstream.origin}/redirect/4`, trusted()));
    expect(error).toBeInstanceOf(ProxyUpstreamError);
    expect(error).toMatchObject({ reason: "too_many_redirects" });
    expect(classifyError(error)).toMatchObject({ status: 502, code: "upstream_error" });
    expect(upstream.requests.map((r) => r.path)).toEqual([
      "/redirect/4",
      "/redirect/3",
      "/redirect/2",
      "/redirect/1",
    ]);
  });

  it("honours a lower maxRedirects", async () => {
    const error = await rejection(
      fetchProxiedImage(`${upstream.origin}/redirect/1`, trusted({ maxRedirects: 0 })),
    );
    expect(error).toMatchObject({ reason: "too_many_redirects" });
  });

  it("refuses a redirect without a Location", async () => {
    const error = await rejection(
      fetchProxiedImage(`${upstream.origin}/redirect-without-location`, trusted()),
    );
    expect(error).toMatchObject({ reason: "bad_redirect" });
  });
});

describe("DNS rebinding: an allowed name resolving to a forbidden address is refused at connect time", () => {
  it("refuses an allowed host whose lookup returns 127.0.0.1, and never connects", async () => {
    const dns = fakeDns([{ address: "127.0.0.1", family: 4 }]);
    const dispatcher = createGuardedDispatcher({ lookup: dns.lookup });
    try {
      const error = await rejection(
        fetchProxiedImage(`https://images.example.test:${victim.port}/a.png`, {
          allowedHosts: [`images.example.test:${victim.port}`],
          dispatcher,
        }),
      );
      expect(error).toBeInstanceOf(UnsafeUrlError);
      expect(error).toMatchObject({ reason: "forbidden_address" });
      expect(dns.asked).toContain("images.example.test");
      expect(victim.connections()).toBe(0);
    } finally {
      await dispatcher.close();
    }
  });

  it.each([
    [[{ address: "::1", family: 6 }]],
    [[{ address: "::ffff:127.0.0.1", family: 6 }]],
    [[{ address: "169.254.169.254", family: 4 }]],
    // A mix: one public answer does not launder a private one.
    [
      [
        { address: "93.184.216.34", family: 4 },
        { address: "10.0.0.7", family: 4 },
      ],
    ],
  ])("refuses answers %j", async (addresses) => {
    const dispatcher = createGuardedDispatcher({ lookup: fakeDns(addresses).lookup });
    try {
      const error = await rejection(
        fetchProxiedImage("https://images.example.test/a.png", {
          allowedHosts: ["images.example.test"],
          dispatcher,
        }),
      );
      expect(error).toMatchObject({ reason: "forbidden_address" });
    } finally {
      await dispatcher.close();
    }
  });

  it("refuses a redirect from the trusted origin to an allowed name that rebinds to loopback", async () => {
    const dns = fakeDns([{ address: "127.0.0.1", family: 4 }]);
    const dispatcher = createGuardedDispatcher({ trustedOrigin: upstream.origin, lookup: dns.lookup });
    const location = `https://images.example.test:${victim.port}/a.png`;
    try {
      const error = await rejection(
        fetchProxiedImage(`${upstream.origin}/redirect-to?location=${encodeURIComponent(location)}`, {
          allowedHosts: [`images.example.test:${victim.port}`],
          trustedOrigin: upstream.origin,
          dispatcher,
        }),
      );
      expect(error).toMatchObject({ reason: "forbidden_address" });
      expect(upstream.requests).toHaveLength(1);
      expect(victim.connections()).toBe(0);
    } finally {
      await dispatcher.close();
    }
  });

  it("the dispatcher alone refuses literal forbidden IPs, except the trusted origin", async () => {
    const strict = createGuardedDispatcher();
    const trusting = createGuardedDispatcher({ trustedOrigin: victim.origin });
    try {
      const error = await rejection(fetch(`${victim.origin}/a.png`, { dispatcher: strict }));
      expect((error as Error).cause).toBeInstanceOf(UnsafeUrlError);
      expect(victim.connections()).toBe(0);

      const response = await fetch(`${victim.origin}/a.png`, { dispatcher: trusting });
      expect(response.status).toBe(200);
      await response.arrayBuffer();
      expect(victim.connections()).toBe(1);
    } finally {
      await strict.close();
      await trusting.close();
    }
  });
});

describe("fetchProxiedImage: byte and time caps", () => {
  it("refuses a declared Content-Length over the cap before streaming", async () => {
    const error = await rejection(
      fetchProxiedImage(`${upstream.origin}/large-declared`, trusted({ maxBytes: MiB })),
    );
    expect(error).toBeInstanceOf(ProxyUpstreamError);
    expect(error).toMatchObject({ reason: "too_large" });
  });

  it("stops streaming and errors once an undeclared body passes the cap", async () => {
    const image = await fetchProxiedImage(`${upstream.origin}/large-chunked`, trusted({ maxBytes: MiB }));
    const reader = image.body.getReader();
    let received = 0;
    const error = await rejection(
      (async () => {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) return;
          received += value.byteLength;
        }
      })(),
    );
    expect(error).toBeInstanceOf(ProxyUpstreamError);
    expect(error).toMatchObject({ reason: "too_large" });
    expect(received).toBeLessThanOrEqual(MiB);
  });

  it("accepts a body of exactly the cap", async () => {
    const image = await fetchProxiedImage(
      `${upstream.origin}/image.png`,
      trusted({ maxBytes: png.byteLength }),
    );
    expect((await bytesOf(image.body)).byteLength).toBe(png.byteLength);
  });

  it("gives up on a host that never answers", async () => {
    const error = await rejection(fetchProxiedImage(`${upstream.origin}/hang`, trusted({ timeoutMs: 300 })));
    expect(error).toBeInstanceOf(ProxyUpstreamError);
    expect(error).toMatchObject({ reason: "timeout" });
  });

  it("errors the stream when the host stalls mid-body", async () => {
    const image = await fetchProxiedImage(`${upstream.origin}/stall`, trusted({ timeoutMs: 300 }));
    expect(image.contentType).toBe("image/png");
    const error = await rejection(bytesOf(image.body));
    expect(error).toBeInstanceOf(ProxyUpstreamError);
    expect(error).toMatchObject({ reason: "timeout" });
  });

  it("stops when the caller aborts", async () => {
    const controller = new AbortController();
    const pending = fetchProxiedImage(`${upstream.origin}/hang`, trusted({ signal: controller.signal }));
    controller.abort();
    const error = await rejection(pending);
    expect(error).toMatchObject({ name: "AbortError" });
  });
});

describe("fetchProxiedImage: only images, only 2xx", () => {
  it.each(["/text", "/html", "/svg", "/gif", "/empty"])(
    "refuses %s as unsupported_media_type",
    async (path) => {
      const error = await rejection(fetchProxiedImage(`${upstream.origin}${path}`, trusted()));
      expect(error).toBeInstanceOf(UnsupportedMediaTypeError);
      expect(classifyError(error)).toMatchObject({ status: 415, code: "unsupported_media_type" });
    },
  );

  it.each([404, 500])("answers an upstream %i as upstream_error", async (status) => {
    const error = await rejection(fetchProxiedImage(`${upstream.origin}/status/${status}`, trusted()));
    expect(error).toBeInstanceOf(ProxyUpstreamError);
    expect(error).toMatchObject({ reason: "status", status });
    expect(classifyError(error)).toMatchObject({ status: 502, code: "upstream_error" });
  });
});
