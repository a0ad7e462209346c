/**
 * A WebSocket client for the load generator that sends each frame at once, as browsers do.
 *
 * Why not Deno's `WebSocket`: its client connection keeps Nagle's algorithm on, so a burst of small
 * frames (an answer and its ICE candidates) waits for the server's delayed ACK: on this machine six
 * frames sent together took 43 ms to arrive where a server's burst took 0.2 ms. Browsers set
 * TCP_NODELAY on their sockets; a bench that does not measures its own client's waits. This one
 * is `Deno.connect` with `setNoDelay(true)` and the few parts of RFC 6455 the bench uses: text
 * frames, close, and pong; the surface is the subset of `WebSocket` the bench calls.
 *
 * @example
 * ```ts
 * const ws = new NoDelaySocket("ws://127.0.0.1:8000/api/rooms/abc/ws");
 * ws.onopen = () => ws.send("hello");
 * ws.onmessage = (e) => console.log(e.data);
 * ```
 */

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The close of a `NoDelaySocket`: the server's code and reason (1006 when the TCP stream ended). */
export interface CloseInfo {
  code: number;
  reason: string;
}

/** A text-only WebSocket client over a TCP connection with Nagle's algorithm off. */
export class NoDelaySocket {
  static readonly CONNECTING = 0;
  static readonly OPEN = 1;
  static readonly CLOSING = 2;
  static readonly CLOSED = 3;

  readyState = NoDelaySocket.CONNECTING;
  onopen: (() => void) | null = null;
  onmessage: ((e: { data: string }) => void) | null = null;
  onclose: ((e: CloseInfo) => void) | null = null;

  #conn: Deno.TcpConn | null = null;
  #writing: Promise<void> = Promise.resolve();

  constructor(url: string) {
    this.#run(new URL(url)).catch(() => this.#closed({ code: 1006, reason: "connection failed" }));
  }

  /** Sends a text frame; ignored unless open (as `WebSocket.send` after close would be lost). */
  send(text: string): void {
    if (this.readyState !== NoDelaySocket.OPEN) return;
    this.#write(frame(0x1, encoder.encode(text)));
  }

  /** Starts the closing handshake; the stream ends once the server answers it. */
  close(code = 1000, reason = ""): void {
    if (this.readyState >= NoDelaySocket.CLOSING) return;
    if (this.readyState === NoDelaySocket.CONNECTING) {
      this.#conn?.close();
      return this.#closed({ code: 1006, reason: "closed while connecting" });
    }
    this.readyState = NoDelaySocket.CLOSING;
    const reasonBytes = encoder.encode(reason);
    const body = new Uint8Array(2 + reasonBytes.length);
    new DataView(body.buffer).setUint16(0, code);
    body.set(reasonBytes, 2);
    this.#write(frame(0x8, body));
  }

  #write(bytes: Uint8Array): void {
    const conn = this.#conn!;
    // Frames go out whole and in order: each write starts after the previous one finished.
    this.#writing = this.#writing.then(async () => {
      for (let off = 0; off < bytes.length;) off += await conn.write(bytes.subarray(off));
    }).catch(() => {});
  }

  #closed(info: CloseInfo): void {
    if (this.readyState === NoDelaySocket.CLOSED) return;
    this.readyState = NoDelaySocket.CLOSED;
    try {
      this.#conn?.close();
    } catch {
      // Already closed.
    }
    this.onclose?.(info);
  }

  async #run(url: URL): Promise<void> {
    const conn = await Deno.connect({ hostname: url.hostname, port: Number(url.port || 80) });
    this.#conn = conn;
    conn.setNoDelay(true);
    const key = btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(16))));
    await conn.write(encoder.encode(
      `GET ${url.pathname}${url.search} HTTP/1.1\r\nHost: ${url.host}\r\nUpgrade: websocket\r\n` +
        `Connection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
    ));
    let buf: Uint8Array = new Uint8Array(0);
    let open = false;
    let close: CloseInfo | null = null;
    const chunk = new Uint8Array(64 * 1024);
    while (true) {
      const n = await conn.read(chunk).catch(() => null);
      if (n === null) break;
      buf = concat(buf, chunk.subarray(0, n));
      if (!open) {
        const end = indexOfHeaderEnd(buf);
        if (end < 0) continue;
        const head = decoder.decode(buf.subarray(0, end));
        if (!head.startsWith("HTTP/1.1 101")) {
          return this.#closed({ code: 1006, reason: head.split("\r\n")[0] });
        }
        buf = buf.subarray(end + 4);
        open = true;
        this.readyState = NoDelaySocket.OPEN;
        this.onopen?.();
      }
      let parsed;
      while ((parsed = parseFrame(buf)) !== null) {
        buf = buf.subarray(parsed.size);
        const { opcode, payload } = parsed;
        if (opcode === 0x1) this.onmessage?.({ data: decoder.decode(payload) });
        else if (opcode === 0x9) this.#write(frame(0xA, payload));
        else if (opcode === 0x8) {
          const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
          close = {
            code: payload.length >= 2 ? view.getUint16(0) : 1005,
            reason: decoder.decode(payload.subarray(2)),
          };
          // Answer the server's close (unless we started it); the server then ends the stream.
          if (this.readyState === NoDelaySocket.OPEN) {
            this.readyState = NoDelaySocket.CLOSING;
            this.#write(frame(0x8, payload.subarray(0, 2)));
          }
        }
      }
    }
    await this.#writing;
    this.#closed(close ?? { code: 1006, reason: "the connection ended without a close frame" });
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.length === 0) return b.slice();
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

function indexOfHeaderEnd(buf: Uint8Array): number {
  for (let i = 0; i + 3 < buf.length; i++) {
    if (buf[i] === 13 && buf[i + 1] === 10 && buf[i + 2] === 13 && buf[i + 3] === 10) return i;
  }
  return -1;
}

/** One whole (unmasked, server-sent) frame at the start of `buf`, or null until it has arrived. */
function parseFrame(buf: Uint8Array): { opcode: number; payload: Uint8Array; size: number } | null {
  if (buf.length < 2) return null;
  const opcode = buf[0] & 0x0f;
  let len = buf[1] & 0x7f;
  let off = 2;
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  if (len === 126) {
    if (buf.length < 4) return null;
    len = view.getUint16(2);
    off = 4;
  } else if (len === 127) {
    if (buf.length < 10) return null;
    len = Number(view.getBigUint64(2));
    off = 10;
  }
  if (buf.length < off + len) return null;
  return { opcode, payload: buf.subarray(off, off + len), size: off + len };
}

/**
 * A client frame, FIN set. RFC 6455 requires clients to mask; the key here is zero, which the
 * protocol allows and which leaves the payload as it is. A random key protects proxies that cache
 * from a hostile page; this client talks to a server on loopback, and masking byte by byte in
 * JavaScript made the load generator, not the server, the bottleneck of the relay phases.
 */
function frame(opcode: number, payload: Uint8Array): Uint8Array {
  const len = payload.length;
  const head = len < 126 ? 2 : len < 65536 ? 4 : 10;
  const out = new Uint8Array(head + 4 + len);
  const view = new DataView(out.buffer);
  out[0] = 0x80 | opcode;
  if (len < 126) out[1] = 0x80 | len;
  else if (len < 65536) (out[1] = 0x80 | 126), view.setUint16(2, len);
  else (out[1] = 0x80 | 127), view.setBigUint64(2, BigInt(len));
  // Bytes head..head+3 stay 0: the masking key.
  out.set(payload, head + 4);
  return out;
}
