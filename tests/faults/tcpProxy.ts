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
  /** Destroys every connection and refuses new ones (the service is down). */
  down(): Promise<void>;
  close(): Promise<void>;
}

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  const sockets = new Set<Socket>();
  let trigger: { pattern: RegExp; fired: () => void } | undefined;
  const server: Server = createServer((client) => {
    const upstream = connect(target.port, target.host);
    sockets.add(client).add(upstream);
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
      upstream.write(chunk);
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
