/**
 * Messages between server isolates (and instances sharing a remote KV), through Deno KV.
 *
 * Each isolate has an inbox, `["inbox", isolate, time, sender, seq]`, and a doorbell key,
 * `["bell", isolate]`. A sender writes a batch of messages and rings the bell in one atomic
 * operation; the receiver watches its bell and then reads the messages from its inbox. The
 * messages are in keys, not in the watched value, because `kv.watch` coalesces values: a
 * watcher may skip intermediate rings, never a key. A poll backs the doorbell up, since watch
 * does not fire across processes on a local file.
 *
 * Messages to one isolate are batched per event-loop turn, so a burst of ICE candidates costs
 * one KV write instead of one per candidate.
 */
import type { JsonValue } from "./protocol.ts";
import type { PeerId } from "./types.ts";

export type BusMessage =
  | { kind: "signal"; room: string; from: PeerId; to: PeerId; payload: JsonValue }
  /** The room changed: re-read it and send the roster to your members. */
  | { kind: "roster"; room: string }
  /** Close this member's socket: evicted, or resumed on another socket. */
  | {
    kind: "close";
    room: string;
    peer: PeerId;
    code: "evicted" | "replaced";
    reason: string;
    evictionCode?: string;
  };

/** KV values are limited to 64 KiB; keep a batch well below with room for the envelope. */
const MAX_BATCH_BYTES = 48 * 1024;
/** Inbox entries of a dead isolate are dropped by KV eventually; correctness never relies on it. */
const INBOX_TTL_MS = 5 * 60_000;

export interface BusOptions {
  kv: Deno.Kv;
  isolate: string;
  onMessage: (message: BusMessage) => void;
  pollMs: number;
}

export class Bus {
  readonly #kv: Deno.Kv;
  readonly #isolate: string;
  readonly #onMessage: (message: BusMessage) => void;
  readonly #pollMs: number;
  #outbox = new Map<string, BusMessage[]>();
  #flushScheduled = false;
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

  start(): void {
    const reader = this.#kv.watch([["bell", this.#isolate]]).getReader();
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
      setTimeout(() => this.#track(this.#flush()), 0);
    }
  }

  /** Waits for the writes and inbox reads in flight (tests, shutdown). */
  async settle(): Promise<void> {
    while (this.#pending.size > 0) await Promise.allSettled([...this.#pending]);
  }

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
    return ["inbox", target, this.#lastTime, this.#isolate, this.#seq++];
  }

  async #flush(): Promise<void> {
    this.#flushScheduled = false;
    const outbox = this.#outbox;
    this.#outbox = new Map();
    await Promise.all([...outbox].map(async ([target, messages]) => {
      for (const batch of batches(messages)) {
        const op = this.#kv.atomic()
          .set(this.#nextKey(target), batch, { expireIn: INBOX_TTL_MS })
          .set(["bell", target], this.#seq, { expireIn: INBOX_TTL_MS });
        try {
          await commitWithRetry(op);
          this.stats.sent += batch.length;
          this.stats.batches++;
        } catch (err) {
          console.error(`Dropped ${batch.length} message(s) for isolate ${target}:`, err);
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
      this.#kv.list<BusMessage[]>({ prefix: ["inbox", this.#isolate] }),
    );
    if (entries.length === 0) return;
    // Delete first: a message is delivered at most once even if a handler throws.
    for (let i = 0; i < entries.length; i += 500) {
      const op = this.#kv.atomic();
      for (const e of entries.slice(i, i + 500)) op.delete(e.key);
      await commitWithRetry(op);
    }
    for (const entry of entries) {
      for (const message of entry.value) {
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

/** Splits messages into batches whose JSON stays under the KV value limit. */
function batches(messages: BusMessage[]): BusMessage[][] {
  const out: BusMessage[][] = [];
  let current: BusMessage[] = [];
  let size = 0;
  for (const m of messages) {
    // KV stores strings as Latin-1 or UTF-16: two bytes a character bounds the stored size.
    const bytes = JSON.stringify(m).length * 2;
    if (current.length > 0 && size + bytes > MAX_BATCH_BYTES) {
      out.push(current);
      current = [];
      size = 0;
    }
    current.push(m);
    size += bytes;
  }
  if (current.length) out.push(current);
  return out;
}

/**
 * Commits an atomic operation, retrying "database is locked" (several processes on one local
 * file). The operations here have no checks, so a commit never fails for a conflict.
 */
async function commitWithRetry(op: Deno.AtomicOperation): Promise<void> {
  for (let attempt = 0;; attempt++) {
    try {
      const res = await op.commit();
      if (res.ok) return;
      throw new Error("KV commit failed");
    } catch (err) {
      if (attempt >= 20 || !String(err).includes("locked")) throw err;
      await new Promise((r) => setTimeout(r, 2 + Math.random() * 10 * (attempt + 1)));
    }
  }
}
