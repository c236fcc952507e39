/**
 * Lingering close for the server's own connections (what nginx and Apache do): an answer given
 * before a body was read to its end (an early 413, 408, 401…) carries `Connection: close`, and
 * Node then destroys the socket as soon as the answer is flushed. Bytes the client was still
 * sending are left unread in the kernel, which answers them with a TCP reset — and a reset makes
 * the client's kernel drop our answer before the client has read it: curl or fetch uploading a
 * too-large file sees "connection reset" or EPIPE instead of the 413 and its message. Here the
 * socket instead half-closes (FIN after the answer), reads and drops what still arrives, and is
 * destroyed when the client closes its side or after LINGER_MS, whichever comes first: bounded in
 * time, and nothing is buffered.
 *
 * `next start` owns the HTTP server, so the hook is on net.Socket's destroySoon (what Node's HTTP
 * server calls for a closing connection), limited to sockets a server accepted.
 */
import net from "node:net";

/** How long a closing connection keeps reading and dropping the client's bytes (nginx: 5 s). */
export const LINGER_MS = 5_000;

const installed = Symbol.for("nano-banana-studio.lingeringClose");

type HookedSocket = net.Socket & { destroySoon(): void; server?: unknown };
type SocketPrototype = HookedSocket & { [installed]?: true };

/** Installs the lingering close once per process (later calls do nothing). */
export function installLingeringClose(lingerMs = LINGER_MS): void {
  const prototype = net.Socket.prototype as SocketPrototype;
  if (prototype[installed]) return;
  const destroySoon = prototype.destroySoon;
  prototype[installed] = true;
  prototype.destroySoon = function (this: HookedSocket) {
    // Outbound sockets, and clients that already finished sending, close as Node always did.
    if (!this.server || !this.readable || this.readableEnded) return destroySoon.call(this);
    linger(this, lingerMs);
  };
}

function linger(socket: net.Socket, lingerMs: number): void {
  const timer = setTimeout(() => socket.destroy(), lingerMs);
  timer.unref();
  socket.once("close", () => clearTimeout(timer));
  socket.once("end", () => socket.destroy());
  socket.resume();
  socket.end();
}
