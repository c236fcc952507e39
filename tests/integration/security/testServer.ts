import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from "node:http";

export interface RecordedRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
}

export interface TestServer {
  /** http://127.0.0.1:<port> */
  origin: string;
  port: number;
  /** Every request received, in order. */
  requests: RecordedRequest[];
  /** TCP connections accepted (a refused-before-connect fetch leaves this at 0). */
  connections(): number;
  close(): Promise<void>;
}

/** An HTTP server on 127.0.0.1, port 0, that records what reaches it. */
export async function startTestServer(
  handler: (request: IncomingMessage, response: ServerResponse, server: TestServer) => void,
): Promise<TestServer> {
  const requests: RecordedRequest[] = [];
  let connections = 0;
  const server = createServer();
  server.on("connection", () => {
    connections++;
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  const testServer: TestServer = {
    origin: `http://127.0.0.1:${port}`,
    port,
    requests,
    connections: () => connections,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  server.on("request", (request: IncomingMessage, response: ServerResponse) => {
    requests.push({ method: request.method ?? "", path: request.url ?? "", headers: request.headers });
    handler(request, response, testServer);
  });
  return testServer;
}
