/**
 * An early refusal reaches a client that is still sending its body: the server answers 413 with
 * `Connection: close` without reading the body (as routes do, body.ts), and the client, which
 * reads its socket only after the server has closed, must still find the 413 — not a reset that
 * made its kernel drop the answer.
 */
import http from "node:http";
import net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { installLingeringClose } from "@/lib/http/lingeringClose";

let server: http.Server;
let port = 0;

beforeAll(async () => {
  installLingeringClose(1_000);
  server = http.createServer((_request, response) => {
    response.writeHead(413, { connection: "close", "content-type": "text/plain" });
    response.end("The request body is too large.");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  port = (server.address() as net.AddressInfo).port;
});

afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

/** Sends a chunked body's first MiB, stops reading, sends a little more, then reads everything. */
function uploadTooMuch(): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1");
    let received = "";
    socket.on("data", (data) => {
      received += data;
    });
    socket.on("error", (error: NodeJS.ErrnoException) => resolve(`${error.code} after "${received}"`));
    socket.on("end", () => {
      socket.end();
      resolve(received);
    });
    const chunk = Buffer.alloc(1024 * 1024, 0x61);
    socket.write("POST /api/generate HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n");
    socket.write(`${chunk.length.toString(16)}\r\n`);
    socket.write(chunk);
    socket.write("\r\n");
    // The answer waits in the kernel while the client is busy: the case a reset destroys.
    socket.pause();
    setTimeout(() => {
      socket.write("10\r\n0123456789abcdef\r\n", () => {});
      setTimeout(() => socket.resume(), 150);
    }, 150);
  });
}

describe("lingering close after an early answer", () => {
  it("a client still sending its body reads the 413, not a reset", async () => {
    for (let attempt = 0; attempt < 3; attempt++) {
      const answer = await uploadTooMuch();
      expect(answer).toMatch(/^HTTP\/1\.1 413 /);
      expect(answer).toContain("The request body is too large.");
    }
  });

  it("a client that keeps sending is cut off after the linger time", async () => {
    // allowHalfOpen: this client does not close its side when the server's answer ends.
    const socket = net.connect({ port, host: "127.0.0.1", allowHalfOpen: true });
    socket.on("error", () => {});
    socket.write("POST / HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n");
    let answered = false;
    socket.on("data", () => {
      answered = true;
    });
    const started = Date.now();
    const timer = setInterval(() => socket.write("4\r\nabcd\r\n"), 50);
    await new Promise<void>((resolve) => socket.once("close", () => resolve()));
    clearInterval(timer);
    expect(answered).toBe(true);
    // Closed by the server's linger timer (1 s here; a timer never fires early), not at once.
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
  });
});
