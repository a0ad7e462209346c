/**
 * Test helpers for the real server as a live process: `startLiveServer` spawns
 * `deno serve [--parallel] main.ts` on a free 127.0.0.1 port with its own sqlite KV file (shared
 * by all isolates), waits for /healthz and stops it afterwards. Also: a parsed /metrics, polling
 * waits, a WebSocket class whose sockets can all be awaited closed (for SignalingClient), and a
 * raw WebSocket over TCP that can send what browsers cannot (binary, invalid UTF-8, broken
 * framing) and drop a connection without a close frame.
 */
import { ensureBuilt } from "./prebuilt.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const HOST = "127.0.0.1";
/** Output kept per server: enough for the last errors, bounded for noisy fuzz runs. */
const MAX_OUTPUT_CHARS = 256 * 1024;

export interface LiveServerOptions {
  /** `deno serve --parallel` (one isolate per core, or `DENO_JOBS` in `env`). */
  parallel: boolean;
  /** Extra environment (`MOOZ_*`); MOOZ_KV is set to a fresh temporary sqlite file. */
  env?: Record<string, string>;
  /**
   * Runs the server through another command: gets the server's argv and the directory of its
   * KV file, returns the argv to spawn, e.g. `unshare` giving the server its own mounts there.
   * Whatever it runs must exec the server in the end (signals go to the spawned process).
   */
  wrap?: (argv: string[], kvDir: string) => string[];
  /** False: the server counts as serving once /healthz answers at all, not only with 200. */
  awaitHealthy?: boolean;
}

export interface LiveServer {
  readonly origin: string;
  readonly port: number;
  /** The sqlite file every isolate of the server shares. */
  readonly kvPath: string;
  wsUrl(room: string): string;
  /** `GET /metrics`, parsed. */
  metrics(): Promise<Metrics>;
  /** `GET /healthz` on a fresh connection (so it may land on any isolate). */
  healthz(): Promise<{ status: number; body: { ok?: boolean; isolate?: string } }>;
  /** Whether the process is still running. */
  running(): boolean;
  /** The current server process's id (the wrapped command's, which execs the server). */
  pid(): number;
  /** Everything the server printed so far (stdout and stderr, the last 256 KiB). */
  output(): string;
  /**
   * Sends `signal` (default SIGKILL: a crash, no clean-up) to the server process and waits until
   * it has exited. The KV file stays; `restart` starts a new process on it.
   */
  kill(signal?: Deno.Signal): Promise<void>;
  /** Kills the process if it still runs, starts a new one on the same port and KV file, and waits until it serves. */
  restart(): Promise<void>;
  /** SIGTERM, then SIGKILL after 5 s; removes the KV files. Idempotent. */
  stop(): Promise<void>;
}

function freePort(): number {
  const listener = Deno.listen({ hostname: HOST, port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

/** Starts the server; retries on another port if the chosen one was taken meanwhile. */
export async function startLiveServer(opts: LiveServerOptions): Promise<LiveServer> {
  // The production server serves only a prebuilt, up-to-date _fresh/.
  await ensureBuilt();
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const server = await spawnServer(opts);
    try {
      await server.ready;
      return server.api;
    } catch (err) {
      lastError = err;
      const out = server.api.output();
      await server.api.stop();
      // Only a lost race for the port is worth another try.
      if (!/AddrInUse|address already in use/i.test(out)) {
        throw new Error(`${(err as Error).message}\n--- server output ---\n${out}`);
      }
    }
  }
  throw lastError;
}

/** Runs `fn` against a live server; always stops it, and prints its output if `fn` throws. */
export async function withLiveServer<T>(
  opts: LiveServerOptions,
  fn: (server: LiveServer) => Promise<T>,
): Promise<T> {
  const server = await startLiveServer(opts);
  try {
    return await fn(server);
  } catch (err) {
    console.error(`--- server output (${server.origin}) ---\n${server.output()}\n--- end ---`);
    throw err;
  } finally {
    await server.stop();
  }
}

async function spawnServer(
  opts: LiveServerOptions,
): Promise<{ api: LiveServer; ready: Promise<void> }> {
  const port = freePort();
  const origin = `http://${HOST}:${port}`;
  const dir = await Deno.makeTempDir({ prefix: "mooz-live-" });
  const kvPath = `${dir}/rooms.sqlite`;
  const args = ["serve"];
  if (opts.parallel) args.push("--parallel");
  args.push("--allow-all", `--port=${port}`, `--host=${HOST}`, "main.ts");

  let output = "";
  const collect = async (stream: ReadableStream<Uint8Array>) => {
    const decoder = new TextDecoder();
    for await (const chunk of stream) {
      output += decoder.decode(chunk, { stream: true });
      if (output.length > MAX_OUTPUT_CHARS * 2) output = output.slice(-MAX_OUTPUT_CHARS);
    }
  };
  /** The current server process; `restart` replaces it (same port, same KV file). */
  let proc!: {
    child: Deno.ChildProcess;
    status: Promise<Deno.CommandStatus>;
    drained: Promise<unknown>;
  };
  let exited = false;
  const launch = () => {
    const argv = [Deno.execPath(), ...args];
    const [command, ...commandArgs] = opts.wrap ? opts.wrap(argv, dir) : argv;
    const child = new Deno.Command(command, {
      args: commandArgs,
      cwd: ROOT,
      env: { NO_COLOR: "1", ...opts.env, MOOZ_KV: kvPath },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    exited = false;
    const drained = Promise.all([collect(child.stdout), collect(child.stderr)]).catch(() => {});
    const status = child.status.then((s) => {
      if (proc.child === child) exited = true;
      return s;
    });
    proc = { child, status, drained };
  };
  launch();

  let stopping: Promise<void> | null = null;
  const stop = () =>
    stopping ??= (async () => {
      const { child, status, drained } = proc;
      if (!exited) {
        try {
          child.kill("SIGTERM");
        } catch { /* exited meanwhile */ }
        let timer: ReturnType<typeof setTimeout> | undefined;
        const killed = new Promise<void>((resolve) => {
          timer = setTimeout(() => {
            try {
              child.kill("SIGKILL");
            } catch { /* exited meanwhile */ }
            resolve();
          }, 5_000);
        });
        await Promise.race([status, killed]);
        clearTimeout(timer);
      }
      await status;
      await drained;
      for (const file of [kvPath, `${kvPath}-wal`, `${kvPath}-shm`]) {
        await Deno.remove(file).catch(() => {});
      }
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    })();

  const kill = async (signal: Deno.Signal = "SIGKILL") => {
    const { child, status } = proc;
    if (!exited) {
      try {
        child.kill(signal);
      } catch { /* exited meanwhile */ }
    }
    await status;
  };

  const ready = async () => {
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      if (exited) throw new Error(`the server exited (${(await proc.status).code}) before serving`);
      try {
        const res = await fetch(`${origin}/healthz`);
        await res.body?.cancel();
        if (res.status === 200 || opts.awaitHealthy === false) return;
      } catch {
        // Not listening yet.
      }
      await delay(50);
    }
    throw new Error(`the server did not answer /healthz on ${origin} within 60 s`);
  };

  const restart = async () => {
    if (stopping) throw new Error("restart after stop");
    await kill("SIGKILL");
    launch();
    await ready();
  };

  const api: LiveServer = {
    origin,
    port,
    kvPath,
    wsUrl: (room) => `ws://${HOST}:${port}/api/rooms/${room}/ws`,
    async metrics() {
      const res = await fetch(`${origin}/metrics`);
      const text = await res.text();
      if (res.status !== 200) throw new Error(`/metrics answered ${res.status}: ${text}`);
      return new Metrics(text);
    },
    async healthz() {
      const res = await rawHttp(port, `GET /healthz HTTP/1.1\r\nHost: ${HOST}:${port}\r\n\r\n`);
      let body = {};
      try {
        body = JSON.parse(res.body);
      } catch { /* left empty: the status tells */ }
      return { status: res.status, body };
    },
    running: () => !exited,
    pid: () => proc.child.pid,
    output: () => output,
    kill,
    restart,
    stop,
  };

  return { api, ready: ready() };
}

// ---------------------------------------------------------------------------------------------
// Metrics

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** A Prometheus text exposition, parsed (the subset /metrics writes). */
export class Metrics {
  readonly samples: Sample[] = [];

  constructor(readonly text: string) {
    for (const line of text.split("\n")) {
      if (line === "" || line.startsWith("#")) continue;
      const m = line.match(/^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/);
      if (!m) throw new Error(`unparsable metrics line: ${line}`);
      const labels: Record<string, string> = {};
      for (const l of (m[2] ?? "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) {
        labels[l[1]] = l[2].replace(/\\n/g, "\n").replace(/\\(.)/g, "$1");
      }
      this.samples.push({ name: m[1], labels, value: Number(m[3]) });
    }
  }

  /** Sum of `name` over samples whose labels include `match`. */
  sum(name: string, match: Record<string, string> = {}): number {
    return this.samples
      .filter((s) => s.name === name && Object.entries(match).every(([k, v]) => s.labels[k] === v))
      .reduce((n, s) => n + s.value, 0);
  }

  /** `name` summed per value of `label` (e.g. per isolate, per code). */
  by(name: string, label: string, match: Record<string, string> = {}): Map<string, number> {
    const out = new Map<string, number>();
    for (const s of this.samples) {
      if (s.name !== name || !Object.entries(match).every(([k, v]) => s.labels[k] === v)) continue;
      const key = s.labels[label] ?? "";
      out.set(key, (out.get(key) ?? 0) + s.value);
    }
    return out;
  }
}

// ---------------------------------------------------------------------------------------------
// Waiting

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Polls `condition` until it returns true; throws after `timeoutMs` naming what was awaited and,
 * if given, the state `describe` reports.
 */
export async function waitFor(
  what: string,
  condition: () => boolean | Promise<boolean>,
  opts: { timeoutMs?: number; intervalMs?: number; describe?: () => unknown } = {},
): Promise<void> {
  const timeoutMs = opts.timeoutMs ?? 15_000;
  const started = Date.now();
  while (true) {
    if (await condition()) return;
    if (Date.now() - started > timeoutMs) {
      const state = opts.describe ? `\nstate: ${Deno.inspect(opts.describe(), { depth: 6 })}` : "";
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${state}`);
    }
    await delay(opts.intervalMs ?? 20);
  }
}

// ---------------------------------------------------------------------------------------------
// WebSockets whose closing can be awaited

/**
 * A WebSocket class for `SignalingClient({ WebSocket })` that remembers every socket it made, so a
 * test can close them all and wait until they are closed (the test sanitizers check that).
 */
export function trackedWebSocket(): {
  WebSocket: typeof WebSocket;
  sockets: Set<WebSocket>;
  closeAll(): Promise<void>;
} {
  const sockets = new Set<WebSocket>();
  const closed = new Map<WebSocket, Promise<void>>();
  class Tracked extends WebSocket {
    constructor(url: string | URL, protocols?: string | string[]) {
      super(url, protocols);
      sockets.add(this);
      closed.set(this, new Promise((resolve) => this.addEventListener("close", () => resolve())));
    }
  }
  return {
    WebSocket: Tracked,
    sockets,
    async closeAll() {
      for (const socket of sockets) {
        if (socket.readyState === WebSocket.CONNECTING || socket.readyState === WebSocket.OPEN) {
          try {
            socket.close(1000);
          } catch { /* closing already */ }
        }
      }
      await Promise.race([Promise.all(closed.values()), delay(10_000)]);
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Raw HTTP and WebSocket over TCP

const encoder = new TextEncoder();
const decoder = new TextDecoder();

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let written = 0;
  while (written < bytes.length) written += await conn.write(bytes.subarray(written));
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

function headEnd(buf: Uint8Array): number {
  for (let i = 3; i < buf.length; i++) {
    if (buf[i - 3] === 13 && buf[i - 2] === 10 && buf[i - 1] === 13 && buf[i] === 10) return i + 1;
  }
  return -1;
}

/**
 * Sends `request` (anything: it need not be valid HTTP) on a new connection and reads the answer
 * until the server closes or `timeoutMs` passes. Status 0 when nothing parsable came back.
 */
export async function rawHttp(
  port: number,
  request: string | Uint8Array,
  timeoutMs = 5_000,
): Promise<{ status: number; head: string; body: string }> {
  const conn = await Deno.connect({ hostname: HOST, port });
  const timer = setTimeout(() => {
    try {
      conn.close();
    } catch { /* closed */ }
  }, timeoutMs);
  let buf: Uint8Array = new Uint8Array(0);
  try {
    const bytes = typeof request === "string" ? encoder.encode(request) : request;
    // The server may close before reading everything (garbage): the answer still counts.
    await writeAll(conn, bytes).catch(() => {});
    const chunk = new Uint8Array(16 * 1024);
    while (true) {
      const n = await conn.read(chunk).catch(() => null);
      if (n === null) break;
      buf = concat(buf, chunk.subarray(0, n));
      const end = headEnd(buf);
      if (end < 0) continue;
      // Enough once the body announced by Content-Length is in (keep-alive would never close).
      const head = decoder.decode(buf.subarray(0, end));
      const length = head.match(/\r\ncontent-length:\s*(\d+)/i);
      if (length && buf.length - end >= Number(length[1])) break;
      // A chunked body ends with its zero-length chunk.
      if (/\r\ntransfer-encoding:\s*chunked/i.test(head) && endsChunked(buf.subarray(end))) break;
    }
  } finally {
    clearTimeout(timer);
    try {
      conn.close();
    } catch { /* closed by the timer */ }
  }
  const end = headEnd(buf);
  const head = decoder.decode(end < 0 ? buf : buf.subarray(0, end));
  const status = Number(head.match(/^HTTP\/1\.[01] (\d{3})/)?.[1] ?? 0);
  let body = end < 0 ? "" : decoder.decode(buf.subarray(end));
  if (/\r\ntransfer-encoding:\s*chunked/i.test(head)) body = unchunk(body);
  return { status, head, body };
}

/** Whether a chunked body has arrived whole (its last chunk has length zero). */
function endsChunked(body: Uint8Array): boolean {
  return /(^|\r\n)0\r\n\r\n$/.test(decoder.decode(body));
}

/** The payload of a chunked body (ASCII chunk sizes; the payloads here are text). */
function unchunk(body: string): string {
  let out = "";
  let at = 0;
  while (at < body.length) {
    const eol = body.indexOf("\r\n", at);
    if (eol < 0) break;
    const size = parseInt(body.slice(at, eol), 16);
    if (!(size > 0)) break;
    out += body.slice(eol + 2, eol + 2 + size);
    at = eol + 2 + size + 2;
  }
  return out;
}

export const OP_TEXT = 1;
export const OP_BINARY = 2;
export const OP_CLOSE = 8;
export const OP_PING = 9;
export const OP_PONG = 10;

export interface FrameOptions {
  fin?: boolean;
  /** Reserved bits (0-7), for protocol fuzzing. */
  rsv?: number;
  /** Clients must mask; false sends an unmasked (invalid) frame. */
  mask?: boolean;
}

/** One client WebSocket frame, masked with a zero key (valid, and cheap for floods). */
export function encodeFrame(opcode: number, payload: Uint8Array, opts: FrameOptions = {}) {
  const mask = opts.mask ?? true;
  const len = payload.length;
  const lenBytes = len < 126 ? 0 : len < 65_536 ? 2 : 8;
  const head = 2 + lenBytes + (mask ? 4 : 0);
  const out = new Uint8Array(head + len);
  out[0] = ((opts.fin ?? true) ? 0x80 : 0) | ((opts.rsv ?? 0) & 7) << 4 | (opcode & 0xf);
  const m = mask ? 0x80 : 0;
  if (lenBytes === 0) out[1] = m | len;
  else if (lenBytes === 2) {
    out[1] = m | 126;
    out[2] = len >> 8;
    out[3] = len & 0xff;
  } else {
    out[1] = m | 127;
    new DataView(out.buffer).setBigUint64(2, BigInt(len));
  }
  // A zero mask key leaves the payload as is.
  out.set(payload, head);
  return out;
}

export interface RawMessage {
  opcode: number;
  data: Uint8Array;
  /** Text frames, decoded. */
  text?: string;
}

export type RawOpenResult =
  | { ok: true; socket: RawWebSocket }
  | { ok: false; status: number; head: string; body: string };

const openRaw = new Set<RawWebSocket>();

/**
 * A WebSocket client written over TCP. Answers pings, answers and records the server's close,
 * and collects text messages. Not fragmented-message aware (the server does not fragment).
 */
export class RawWebSocket {
  readonly messages: RawMessage[] = [];
  /** Close code the server sent (1005 without a code), or 1006 if the TCP connection just ended. */
  closeCode: number | null = null;
  closeReason = "";
  readonly closed: Promise<void>;
  #conn: Deno.Conn;
  #writing: Promise<void> = Promise.resolve();
  #sentClose = false;
  #listeners = new Set<(m: RawMessage) => void>();
  #ended = false;

  private constructor(conn: Deno.Conn, leftover: Uint8Array) {
    this.#conn = conn;
    openRaw.add(this);
    this.closed = this.#readLoop(leftover).finally(() => {
      this.#ended = true;
      openRaw.delete(this);
      try {
        this.#conn.close();
      } catch { /* closed already */ }
    });
  }

  /** Opens `path` with a WebSocket upgrade; returns the HTTP answer when the server refuses. */
  static async open(
    port: number,
    path: string,
    opts: { headers?: Record<string, string>; timeoutMs?: number } = {},
  ): Promise<RawOpenResult> {
    const conn = await Deno.connect({ hostname: HOST, port });
    const key = btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(16))));
    const headers: Record<string, string> = {
      Host: `${HOST}:${port}`,
      Upgrade: "websocket",
      Connection: "Upgrade",
      "Sec-WebSocket-Key": key,
      "Sec-WebSocket-Version": "13",
      ...opts.headers,
    };
    const lines = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join("");
    const timer = setTimeout(() => {
      try {
        conn.close();
      } catch { /* closed */ }
    }, opts.timeoutMs ?? 10_000);
    let buf: Uint8Array = new Uint8Array(0);
    let end = -1;
    try {
      await writeAll(conn, encoder.encode(`GET ${path} HTTP/1.1\r\n${lines}\r\n`));
      const chunk = new Uint8Array(16 * 1024);
      while ((end = headEnd(buf)) < 0) {
        const n = await conn.read(chunk);
        if (n === null) break;
        buf = concat(buf, chunk.subarray(0, n));
      }
    } catch (err) {
      clearTimeout(timer);
      try {
        conn.close();
      } catch { /* closed by the timer */ }
      return { ok: false, status: 0, head: String(err), body: "" };
    }
    clearTimeout(timer);
    const head = decoder.decode(end < 0 ? buf : buf.subarray(0, end));
    const status = Number(head.match(/^HTTP\/1\.1 (\d{3})/)?.[1] ?? 0);
    if (status !== 101 || end < 0) {
      // Read the (small, Content-Length framed) error body, then close.
      let body = end < 0 ? new Uint8Array(0) : buf.subarray(end);
      const length = Number(head.match(/\r\ncontent-length:\s*(\d+)/i)?.[1] ?? 0);
      const chunk = new Uint8Array(4096);
      while (body.length < length) {
        const n = await conn.read(chunk).catch(() => null);
        if (n === null) break;
        body = concat(body, chunk.subarray(0, n));
      }
      try {
        conn.close();
      } catch { /* closed */ }
      return { ok: false, status, head, body: decoder.decode(body) };
    }
    return { ok: true, socket: new RawWebSocket(conn, buf.subarray(end)) };
  }

  /** Closes every raw socket still open (test cleanup) and waits for them. */
  static async closeAll(): Promise<void> {
    const all = [...openRaw];
    for (const s of all) s.abort();
    await Promise.all(all.map((s) => s.closed));
  }

  get isClosed(): boolean {
    return this.#ended || this.closeCode !== null;
  }

  onMessage(fn: (m: RawMessage) => void): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }

  /** Text messages parsed as JSON (server frames are always JSON objects). */
  json(): Record<string, unknown>[] {
    return this.messages.flatMap((m) => m.text === undefined ? [] : [JSON.parse(m.text)]);
  }

  sendText(text: string): Promise<boolean> {
    return this.sendRaw(encodeFrame(OP_TEXT, encoder.encode(text)));
  }

  sendJson(value: unknown): Promise<boolean> {
    return this.sendText(JSON.stringify(value));
  }

  /** Writes bytes as they are (one or many frames, or garbage). False once the connection is gone. */
  sendRaw(bytes: Uint8Array): Promise<boolean> {
    const write = this.#writing.then(async () => {
      if (this.#ended) return false;
      try {
        await writeAll(this.#conn, bytes);
        return true;
      } catch {
        return false;
      }
    });
    this.#writing = write.then(() => {});
    return write;
  }

  /** Whether this side started the closing handshake (the server then echoes our code). */
  initiatedClose = false;

  /** Starts the closing handshake. */
  close(code = 1000): Promise<boolean> {
    if (this.#sentClose) return Promise.resolve(false);
    this.#sentClose = true;
    this.initiatedClose = true;
    const payload = new Uint8Array(2);
    new DataView(payload.buffer).setUint16(0, code);
    return this.sendRaw(encodeFrame(OP_CLOSE, payload));
  }

  /** Whether this side dropped the connection (`abort`). */
  aborted = false;

  /** Drops the TCP connection without a close frame: what a lost network looks like. */
  abort(): void {
    if (!this.#ended) this.aborted = true;
    this.#ended = true;
    try {
      this.#conn.close();
    } catch { /* closed already */ }
  }

  /** Waits for a message matching `pred` (already received or future). */
  waitFor(
    pred: (m: Record<string, unknown>) => boolean,
    timeoutMs = 10_000,
  ): Promise<Record<string, unknown>> {
    const found = this.json().find(pred);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        off();
        reject(
          new Error(`no matching message within ${timeoutMs} ms; got ${this.messages.length}`),
        );
      }, timeoutMs);
      const off = this.onMessage((m) => {
        if (m.text === undefined) return;
        const value = JSON.parse(m.text);
        if (!pred(value)) return;
        clearTimeout(timer);
        off();
        resolve(value);
      });
      this.closed.then(() => {
        clearTimeout(timer);
        off();
        reject(new Error(`closed (${this.closeCode}) before a matching message came`));
      });
    });
  }

  async #readLoop(leftover: Uint8Array): Promise<void> {
    let buf = leftover;
    const chunk = new Uint8Array(64 * 1024);
    let fragments: Uint8Array[] = [];
    let fragmentOp = 0;
    while (true) {
      // Parse every complete frame in the buffer.
      while (buf.length >= 2) {
        const opcode = buf[0] & 0xf;
        const fin = (buf[0] & 0x80) !== 0;
        let len = buf[1] & 0x7f;
        let offset = 2;
        if (len === 126) {
          if (buf.length < 4) break;
          len = (buf[2] << 8) | buf[3];
          offset = 4;
        } else if (len === 127) {
          if (buf.length < 10) break;
          len = Number(new DataView(buf.buffer, buf.byteOffset + 2, 8).getBigUint64(0));
          offset = 10;
        }
        if (buf.length < offset + len) break;
        const data = buf.slice(offset, offset + len);
        buf = buf.subarray(offset + len);
        if (opcode === OP_PING) {
          if (!this.#sentClose) this.sendRaw(encodeFrame(OP_PONG, data));
        } else if (opcode === OP_PONG) {
          // The answer to a ping we sent: nothing to deliver.
        } else if (opcode === OP_CLOSE) {
          this.closeCode = data.length >= 2 ? (data[0] << 8) | data[1] : 1005;
          this.closeReason = decoder.decode(data.subarray(2));
          if (!this.#sentClose) {
            this.#sentClose = true;
            await this.sendRaw(encodeFrame(OP_CLOSE, data.subarray(0, 2)));
          }
          return;
        } else if (opcode === 0 || !fin) {
          if (opcode !== 0) fragmentOp = opcode;
          fragments.push(data);
          if (fin) {
            const whole = fragments.reduce(concat, new Uint8Array(0));
            fragments = [];
            this.#deliver(fragmentOp, whole);
          }
        } else this.#deliver(opcode, data);
      }
      const n = await this.#conn.read(chunk).catch(() => null);
      if (n === null) {
        this.closeCode ??= 1006;
        return;
      }
      buf = concat(buf, chunk.subarray(0, n));
    }
  }

  #deliver(opcode: number, data: Uint8Array): void {
    const message: RawMessage = { opcode, data };
    if (opcode === OP_TEXT) message.text = decoder.decode(data);
    this.messages.push(message);
    for (const fn of [...this.#listeners]) fn(message);
  }
}
