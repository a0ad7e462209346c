/**
 * Messages between server isolates (and instances sharing a remote KV), through Deno KV.
 *
 * Each isolate has an inbox and a doorbell key (`busKeys` in keys.ts). A sender writes a batch of
 * messages and rings the bell in one atomic operation; the receiver watches its bell and then
 * reads the messages from its inbox. The messages are in keys, not in the watched value, because
 * `kv.watch` coalesces values: a watcher may skip intermediate rings, never a key. A poll backs
 * the doorbell up, since watch does not fire across processes on a local file.
 *
 * Messages to one isolate are batched per event-loop turn, so a burst of ICE candidates costs
 * one KV write instead of one per candidate. Writes happen one flush after another, so a sender's
 * inbox keys grow in the order its messages were sent and the receiver reads them in that order.
 *
 * A batch is stored as UTF-8 JSON bytes, not as a structured value: its size in KV is then
 * exactly the size measured here, while a structured value can take far more than its JSON (two
 * bytes per character of a string holding one non-Latin-1 character, nine per number).
 */
import { busKeys } from "./keys.ts";
import { commitUnchecked } from "./kv_retry.ts";
import { KV_LIMITS } from "./limits.ts";
import type { EvictionCode, JsonValue } from "./protocol.ts";
import type { PeerId } from "./types.ts";

/** A member's signal for a socket held by the receiving isolate. */
export interface SignalNote {
  kind: "signal";
  room: string;
  from: PeerId;
  to: PeerId;
  payload: JsonValue;
}

/** The room changed: re-read it and send the roster to your members. */
export interface RoomChangedNote {
  kind: "roster";
  room: string;
}

/**
 * Close this member's socket: resumed on another socket (`replaced`), or removed by the server
 * (`evicted`, with the code to tell the member).
 */
export type CloseNote =
  & { kind: "close"; room: string; peer: PeerId; reason: string }
  & (
    | { code: "replaced" }
    | { code: "evicted"; evictionCode: Exclude<EvictionCode, "replaced"> }
  );

/**
 * What isolates tell each other; sender and receiver share this type. The shape is also the
 * stored JSON, so instances of different versions sharing a KV still understand each other:
 * change it only by adding.
 */
export type BusMessage = SignalNote | RoomChangedNote | CloseNote;

/**
 * KV values are limited to 64 KiB (`KV_LIMITS.valueBytes`); keep a batch well below. One message
 * always fits: a signal's payload is at most 32 KiB of UTF-8 JSON (MAX_PAYLOAD_BYTES) plus a small
 * envelope.
 */
const MAX_BATCH_BYTES = KV_LIMITS.valueBytes - 16 * 1024;
/** Inbox entries of a dead isolate are dropped by KV eventually; correctness never relies on it. */
const INBOX_TTL_MS = 5 * 60_000;

/** What a `Bus` needs: the database, its own isolate id, and what to do with what arrives. */
export interface BusOptions {
  kv: Deno.Kv;
  /** This isolate's id: the address other isolates send to. */
  isolate: string;
  /** Called for every message that arrives, once, in each sender's order. */
  onMessage: (message: BusMessage) => void;
  /** Fallback poll of the inbox, for writers the doorbell does not reach (other processes). */
  pollMs: number;
}

/**
 * The message bus of one isolate: `send` to another isolate's inbox, receive from its own.
 *
 * @example
 * ```ts
 * const bus = new Bus({ kv, isolate: "a", pollMs: 1_000, onMessage: (m) => console.log(m) });
 * bus.start();
 * bus.send("b", { kind: "roster", room });
 * await bus.stop();
 * ```
 */
export class Bus {
  readonly #kv: Deno.Kv;
  readonly #isolate: string;
  readonly #onMessage: (message: BusMessage) => void;
  readonly #pollMs: number;
  #outbox = new Map<string, BusMessage[]>();
  #flushScheduled = false;
  /** The last flush; the next one starts after it, so batches are written in send order. */
  #flushing: Promise<void> = Promise.resolve();
  #seq = 0;
  #lastTime = 0;
  #draining: Promise<void> | null = null;
  #drainAgain = false;
  #stopped = false;
  #watch: ReadableStreamDefaultReader<Deno.KvEntryMaybe<unknown>[]> | null = null;
  #watching: Promise<void> | null = null;
  #poll: ReturnType<typeof setInterval> | undefined;
  #pending = new Set<Promise<unknown>>();
  /** Messages written to KV, and batches (KV writes) they took. */
  stats = { sent: 0, batches: 0, received: 0 };

  constructor(opts: BusOptions) {
    this.#kv = opts.kv;
    this.#isolate = opts.isolate;
    this.#onMessage = opts.onMessage;
    this.#pollMs = opts.pollMs;
  }

  /** Starts watching the doorbell and polling the inbox. */
  start(): void {
    const reader = this.#kv.watch([busKeys.bell(this.#isolate)]).getReader();
    this.#watch = reader;
    const watching = (async () => {
      try {
        while (!(await reader.read()).done) this.#drain();
      } catch (err) {
        if (!this.#stopped) console.error("Inbox watch failed; relying on polling:", err);
      }
    })();
    this.#watching = watching;
    this.#poll = setInterval(() => this.#drain(), this.#pollMs);
  }

  /** Queues a message for another isolate; it is written with others at the end of this turn. */
  send(isolate: string, message: BusMessage): void {
    if (this.#stopped) return;
    let queue = this.#outbox.get(isolate);
    if (!queue) this.#outbox.set(isolate, queue = []);
    queue.push(message);
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      // Tracked from now on, so settle() and stop() wait for it even before the timer fires.
      const turn = new Promise((resolve) => setTimeout(resolve, 0));
      this.#flushing = Promise.all([turn, this.#flushing]).then(() => this.#flush())
        .catch((err) => console.error("Writing to the bus failed:", err));
      this.#track(this.#flushing);
    }
  }

  /** Waits for the writes (also those queued this turn) and inbox reads in flight. */
  async settle(): Promise<void> {
    while (this.#pending.size > 0) await Promise.allSettled([...this.#pending]);
  }

  /** Stops reading the inbox and sending; what was sent before is still written. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#poll);
    await this.#watch?.cancel().catch(() => {});
    await this.#watching;
    await this.settle();
  }

  #track(p: Promise<unknown>): void {
    this.#pending.add(p);
    p.finally(() => this.#pending.delete(p));
  }

  /** A per-sender increasing key part, so one sender's messages are read in the order sent. */
  #nextKey(target: string): Deno.KvKey {
    this.#lastTime = Math.max(this.#lastTime, Date.now());
    return busKeys.message(target, this.#lastTime, this.#isolate, this.#seq++);
  }

  async #flush(): Promise<void> {
    this.#flushScheduled = false;
    const outbox = this.#outbox;
    this.#outbox = new Map();
    await Promise.all([...outbox].map(async ([target, messages]) => {
      for (const batch of batches(messages)) {
        const key = this.#nextKey(target);
        const ring = this.#seq;
        try {
          await commitUnchecked("bus write", () =>
            this.#kv.atomic()
              .set(key, batch.bytes, { expireIn: INBOX_TTL_MS })
              .set(busKeys.bell(target), ring, { expireIn: INBOX_TTL_MS }));
          this.stats.sent += batch.count;
          this.stats.batches++;
        } catch (err) {
          console.error(`Dropped ${batch.count} message(s) for isolate ${target}:`, err);
        }
      }
    }));
  }

  /** Reads and deletes everything in the inbox; one drain at a time, re-run if rung meanwhile. */
  #drain(): void {
    if (this.#stopped) return;
    if (this.#draining) {
      this.#drainAgain = true;
      return;
    }
    this.#draining = (async () => {
      do {
        this.#drainAgain = false;
        await this.#drainOnce();
      } while (this.#drainAgain && !this.#stopped);
    })().catch((err) => console.error("Reading the inbox failed:", err))
      .finally(() => (this.#draining = null));
    this.#track(this.#draining);
  }

  async #drainOnce(): Promise<void> {
    const entries = await Array.fromAsync(
      this.#kv.list<Uint8Array>({ prefix: busKeys.inbox(this.#isolate) }),
    );
    if (entries.length === 0) return;
    // Delete first: a message is delivered at most once even if a handler throws.
    for (let i = 0; i < entries.length; i += 500) {
      const part = entries.slice(i, i + 500);
      await commitUnchecked("inbox read", () => {
        const op = this.#kv.atomic();
        for (const e of part) op.delete(e.key);
        return op;
      });
    }
    for (const entry of entries) {
      let messages: BusMessage[];
      try {
        messages = JSON.parse(decoder.decode(entry.value));
      } catch (err) {
        console.error("Dropped an unreadable inbox entry:", err);
        continue;
      }
      for (const message of messages) {
        this.stats.received++;
        try {
          this.#onMessage(message);
        } catch (err) {
          console.error("Handling a bus message failed:", err);
        }
      }
    }
  }
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Splits messages into batches, each a JSON array in UTF-8 under the KV value limit. */
function batches(messages: BusMessage[]): { count: number; bytes: Uint8Array }[] {
  const out: { count: number; bytes: Uint8Array }[] = [];
  let parts: Uint8Array[] = [];
  let size = 1; // "["
  const close = () => {
    const bytes = new Uint8Array(size);
    let at = 0;
    parts.forEach((part, i) => {
      bytes[at++] = i === 0 ? 0x5b : 0x2c; // "[" before the first, "," between
      bytes.set(part, at);
      at += part.length;
    });
    bytes[at] = 0x5d; // "]"
    out.push({ count: parts.length, bytes });
    parts = [];
    size = 1;
  };
  for (const m of messages) {
    const part = encoder.encode(JSON.stringify(m));
    // Each part adds its bytes and one separator ("," or the closing "]").
    if (parts.length > 0 && size + part.length + 1 > MAX_BATCH_BYTES) close();
    parts.push(part);
    size += part.length + 1;
  }
  if (parts.length) close();
  return out;
}
