/**
 * A loopback TCP proxy the fault scenarios put between the app and Postgres or Redis, so that a
 * connection can be cut at a chosen moment, or the service "go down" while the app runs.
 */
import { connect, createServer, type Server, type Socket } from "node:net";

export interface TcpProxy {
  port: number;
  /**
   * Cuts the connection the next time the client sends bytes matching `pattern` (before they are
   * forwarded); resolves when that happened.
   */
  cutOn(pattern: RegExp): Promise<void>;
  /**
   * From now on, a client chunk matching `pattern` (e.g. an HTTP request line) is held `ms` before
   * it is forwarded, and what follows on that connection waits behind it: a slow service.
   */
  delayOn(pattern: RegExp, ms: number): void;
  /** Requests held by delayOn right now. */
  readonly held: number;
  /** Destroys every connection and refuses new ones (the service is down). */
  down(): Promise<void>;
  close(): Promise<void>;
}

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  const sockets = new Set<Socket>();
  let trigger: { pattern: RegExp; fired: () => void } | undefined;
  let delay: { pattern: RegExp; ms: number } | undefined;
  let held = 0;
  const server: Server = createServer((client) => {
    const upstream = connect(target.port, target.host);
    sockets.add(client).add(upstream);
    // What goes upstream, in order (a delayed chunk holds back the ones after it).
    let forwarding = Promise.resolve();
    const end = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on("data", (chunk: Buffer) => {
      if (trigger?.pattern.test(chunk.toString("latin1"))) {
        const { fired } = trigger;
        trigger = undefined;
        end();
        fired();
        return;
      }
      if (delay?.pattern.test(chunk.toString("latin1"))) {
        const { ms } = delay;
        held++;
        forwarding = forwarding.then(() =>
          new Promise<void>((resolve) => setTimeout(resolve, ms)).finally(() => held--),
        );
      }
      forwarding = forwarding.then(() => {
        if (!upstream.destroyed) upstream.write(chunk);
      });
    });
    upstream.on("data", (chunk: Buffer) => client.write(chunk));
    client.on("close", end).on("error", end);
    upstream.on("close", end).on("error", end);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  const destroyAll = () => {
    for (const socket of sockets) socket.destroy();
    sockets.clear();
  };
  return {
    port,
    cutOn: (pattern) => new Promise<void>((fired) => (trigger = { pattern, fired })),
    delayOn: (pattern, ms) => {
      delay = { pattern, ms };
    },
    get held() {
      return held;
    },
    down: async () => {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        destroyAll();
      });
    },
    close: async () => {
      destroyAll();
      if (server.listening) await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
