/**
 * createGuardedDispatcher on its own, against HTTP servers on 127.0.0.1: which connections it makes
 * and which it refuses before connecting. (imageProxy.test.ts covers the whole proxy on top of it;
 * this file is what the mutation run uses for the dispatcher, kept small and quick.)
 */
import { createServer } from "node:http";
import type { AddressInfo, LookupFunction } from "node:net";
import { fetch } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createGuardedDispatcher, UnsafeUrlError } from "@/lib/security";
import { startTestServer, type TestServer } from "./testServer";

let trusted: TestServer;
let victim: TestServer;

beforeAll(async () => {
  const hello = (name: string) => (_request: unknown, response: import("node:http").ServerResponse) =>
    response.writeHead(200, { "content-type": "text/plain" }).end(name);
  trusted = await startTestServer(hello("trusted"));
  victim = await startTestServer(hello("victim"));
});

afterAll(async () => {
  await Promise.all([trusted.close(), victim.close()]);
});

/** A DNS that answers `address` for every name. */
const dnsAnswering = (address: string) =>
  ((_hostname: string, _options: unknown, callback: (...args: unknown[]) => void) =>
    callback(null, [{ address, family: address.includes(":") ? 6 : 4 }])) as unknown as LookupFunction;

async function refusal(url: string, dispatcher: ReturnType<typeof createGuardedDispatcher>) {
  const error = await fetch(url, { dispatcher }).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(TypeError);
  const cause = (error as TypeError).cause;
  expect(cause).toBeInstanceOf(UnsafeUrlError);
  return cause as UnsafeUrlError;
}

describe("createGuardedDispatcher", () => {
  it("connects to exactly the trusted origin, loopback as it is", async () => {
    const dispatcher = createGuardedDispatcher({ trustedOrigin: `${trusted.origin}/ignored/path` });
    try {
      const response = await fetch(`${trusted.origin}/a.png`, { dispatcher });
      expect(await response.text()).toBe("trusted");
    } finally {
      await dispatcher.close();
    }
  });

  it("refuses a literal loopback IP on any other port without connecting", async () => {
    const dispatcher = createGuardedDispatcher({ trustedOrigin: trusted.origin });
    try {
      const before = victim.connections();
      const cause = await refusal(`${victim.origin}/a.png`, dispatcher);
      expect(cause).toMatchObject({ reason: "forbidden_address", detail: "127.0.0.1" });
      expect(victim.connections()).toBe(before);
    } finally {
      await dispatcher.close();
    }
  });

  it("refuses a name that resolves to loopback, before connecting", async () => {
    const dispatcher = createGuardedDispatcher({ lookup: dnsAnswering("127.0.0.1") });
    try {
      const before = victim.connections();
      const cause = await refusal(`http://images.example.com:${victim.port}/a.png`, dispatcher);
      expect(cause).toMatchObject({
        reason: "forbidden_address",
        detail: "images.example.com resolved to 127.0.0.1",
      });
      expect(victim.connections()).toBe(before);
    } finally {
      await dispatcher.close();
    }
  });

  it("trusts nothing without a trusted origin, and no other origin with one", async () => {
    for (const options of [{}, { trustedOrigin: victim.origin.replace("127.0.0.1", "localhost") }]) {
      const dispatcher = createGuardedDispatcher(options);
      try {
        await refusal(`${trusted.origin}/a.png`, dispatcher);
      } finally {
        await dispatcher.close();
      }
    }
    expect(trusted.connections()).toBe(1); // only the first test's
  });

  it("refuses a literal IPv6 loopback too", async () => {
    const dispatcher = createGuardedDispatcher({ trustedOrigin: trusted.origin });
    try {
      const cause = await refusal(`http://[::1]:${victim.port}/a.png`, dispatcher);
      expect(cause).toMatchObject({ reason: "forbidden_address", detail: "::1" });
    } finally {
      await dispatcher.close();
    }
  });
});

/** The error fetch failed with, and its cause (the connector's own error). */
async function failure(url: string, dispatcher: ReturnType<typeof createGuardedDispatcher>) {
  const error = await fetch(url, { dispatcher }).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(TypeError);
  return (error as TypeError).cause as Error & { code?: string };
}

describe("createGuardedDispatcher: its options and the trusted origin's spellings (issue 17)", () => {
  it("gives up a connection after connectTimeoutMs, DNS included", async () => {
    // A DNS that never answers: only the connect timeout ends the attempt.
    const silent = (() => undefined) as unknown as LookupFunction;
    const dispatcher = createGuardedDispatcher({ lookup: silent, connectTimeoutMs: 200 });
    try {
      const started = Date.now();
      const cause = await failure("http://images.example.com:4599/a.png", dispatcher);
      expect(cause.code).toBe("UND_ERR_CONNECT_TIMEOUT");
      expect(Date.now() - started).toBeLessThan(5_000); // the default is 10 s
    } finally {
      await dispatcher.close();
    }
  });

  it("trusts an origin on the scheme's default port and on IPv6 loopback: it connects, not refuses", async () => {
    // Nothing need listen there: what matters is that the dispatcher tries to connect (a
    // connection error) instead of refusing the address as forbidden.
    for (const origin of ["http://127.0.0.1", "http://[::1]:4599"]) {
      const dispatcher = createGuardedDispatcher({ trustedOrigin: origin });
      try {
        const cause = await failure(`${origin}/a.png`, dispatcher).catch((e: unknown) => e as Error);
        expect(cause).not.toBeInstanceOf(UnsafeUrlError);
      } finally {
        await dispatcher.close();
      }
    }
  });

  it("keeps an idle connection 10 s for reuse when the host gives no keep-alive hint (undici's own default: 4 s)", async () => {
    let connections = 0;
    const server = createServer((_request, response) => response.end("ok"));
    server.keepAliveTimeout = 0; // no `Keep-Alive: timeout=` hint: the client's own idle timeout applies
    server.on("connection", () => connections++);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const dispatcher = createGuardedDispatcher({ trustedOrigin: origin });
    try {
      expect(await (await fetch(`${origin}/1.png`, { dispatcher })).text()).toBe("ok");
      await new Promise((resolve) => setTimeout(resolve, 5_000));
      expect(await (await fetch(`${origin}/2.png`, { dispatcher })).text()).toBe("ok");
      expect(connections).toBe(1);
    } finally {
      await dispatcher.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  }, 15_000);
});
