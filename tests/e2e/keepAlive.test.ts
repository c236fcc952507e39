/**
 * An early refusal must not poison the connection (issue 24 item 1, DESIGN.md §3 "Requests"):
 * a multipart upload refused before its body is read (413 over the size limit, 415 by type) used
 * to leave the rest of the body unread on a keep-alive connection, and the client's next request
 * on it hung until the server reset it. A real HTTP client reusing one keep-alive connection
 * (node:http Agent, keepAlive, maxSockets 1) against the production server (`npm start`).
 */
import http from "node:http";
import type { Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningApp, startApp } from "../helpers/server";

const MiB = 1024 * 1024;
let app: RunningApp;
let token: string;

beforeAll(async () => {
  app = await startApp({ KIE_API_KEY: "", DATABASE_URL: "", SUPABASE_URL: "", SUPABASE_JWT_SECRET: "" });
  const signIn = await fetch(`${app.url}/api/auth/dev`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ email: "keepalive@example.com" }),
  });
  token = (await signIn.json()).accessToken;
});

afterAll(async () => {
  await app?.stop();
});

interface Answer {
  status: number;
  body: string;
  socket: Socket;
  connection: string | undefined;
}

function send(
  agent: http.Agent,
  path: string,
  init: { method?: string; headers?: Record<string, string>; body?: Buffer } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const request = http.request(`${app.url}${path}`, {
      agent,
      method: init.method ?? "GET",
      headers: { authorization: `Bearer ${token}`, ...init.headers },
    });
    let socket: Socket | undefined;
    request.once("socket", (s) => (socket = s as Socket));
    request.once("error", reject);
    request.once("response", (response) => {
      let body = "";
      response.setEncoding("utf8");
      response.on("data", (chunk) => (body += chunk));
      response.once("end", () =>
        resolve({
          status: response.statusCode ?? 0,
          body,
          socket: socket as Socket,
          connection: response.headers.connection,
        }),
      );
      response.once("error", reject);
    });
    request.end(init.body);
  });
}

/** A multipart body with a prompt and one file part of `bytes` (PNG magic or not). */
function multipart(fileBytes: Buffer, type = "image/png"): { body: Buffer; contentType: string } {
  const boundary = "----keepalive-test-boundary";
  const head = Buffer.from(
    `--${boundary}\r\nContent-Disposition: form-data; name="prompt"\r\n\r\na picture\r\n` +
      `--${boundary}\r\nContent-Disposition: form-data; name="images"; filename="x.png"\r\n` +
      `Content-Type: ${type}\r\n\r\n`,
  );
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  return {
    body: Buffer.concat([head, fileBytes, tail]),
    contentType: `multipart/form-data; boundary=${boundary}`,
  };
}

const PNG_MAGIC = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

describe("after an early refusal, the keep-alive connection still works", () => {
  const refusals: [string, () => { body: Buffer; contentType: string }, number][] = [
    ["an 11 MiB file → 413", () => multipart(Buffer.concat([PNG_MAGIC, Buffer.alloc(11 * MiB, 1)])), 413],
    ["a 4 MiB file that is not an image → 415", () => multipart(Buffer.alloc(4 * MiB, 0x41)), 415],
    [
      "a 4 MiB body of no accepted type → 415 before a byte is read",
      () => ({ body: Buffer.alloc(4 * MiB, 0x41), contentType: "text/plain" }),
      415,
    ],
  ];
  for (const [name, upload, status] of refusals) {
    it(`${name}, then the next request on that connection is answered`, async () => {
      const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
      try {
        const warmUp = await send(agent, "/api/health");
        expect(warmUp.status).toBe(200);
        const { body, contentType } = upload();
        const refused = await send(agent, "/api/generate", {
          method: "POST",
          headers: { "content-type": contentType, prefer: "respond-async" },
          body,
        });
        expect(refused.status).toBe(status);
        const next = await send(agent, "/api/credits");
        expect(next.status).toBe(200);
        expect(JSON.parse(next.body)).toMatchObject({ success: true });
        // As designed: a bounded remainder is drained, so the same connection is reused.
        expect(next.socket).toBe(refused.socket);
        expect(refused.connection).not.toBe("close");
      } finally {
        agent.destroy();
      }
    });
  }

  it("a body too large to drain (a declared 300 MiB) is answered with Connection: close, and the next request gets a new connection", async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const refused = await new Promise<Answer>((resolve, reject) => {
        const request = http.request(`${app.url}/api/generate`, {
          agent,
          method: "POST",
          headers: {
            authorization: `Bearer ${token}`,
            "content-type": "multipart/form-data; boundary=x",
            "content-length": String(300 * MiB),
          },
        });
        let socket: Socket | undefined;
        request.once("socket", (s) => (socket = s as Socket));
        request.once("response", (response) => {
          response.resume();
          response.once("end", () =>
            resolve({
              status: response.statusCode ?? 0,
              body: "",
              socket: socket as Socket,
              connection: response.headers.connection,
            }),
          );
        });
        request.once("error", reject);
        request.write(Buffer.alloc(64 * 1024, 1)); // a start, never the whole
      });
      expect(refused.status).toBe(413);
      expect(refused.connection).toBe("close");
      const next = await send(agent, "/api/credits");
      expect(next.status).toBe(200);
      expect(next.socket).not.toBe(refused.socket);
    } finally {
      agent.destroy();
    }
  });
});
