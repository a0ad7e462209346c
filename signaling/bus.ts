/**
 * Messages between server isolates: over a channel to the isolates of this process that share
 * its database (`bus_local.ts`), and through Deno KV to every other (other processes, instances
 * sharing a remote KV, isolates not found on the channel). KV stays the state of record; the bus
 * only says "look now" or carries signals.
 *
 * Through KV: each isolate has an inbox and a doorbell key (`busKeys` in keys.ts). A sender
 * writes batches of messages and rings the bell in one atomic operation; the receiver watches its
 * bell and then reads the messages from its inbox. The messages are in keys, not in the watched
 * value, because `kv.watch` coalesces values: a watcher may skip intermediate rings, never a key.
 * A poll backs the doorbell up, since watch does not fire across processes on a local file.
 *
 * Messages to one isolate are batched per event-loop turn, so a burst of ICE candidates costs
 * one KV write instead of one per candidate; a batch is one value (at most 48 KiB), and one write
 * holds several batches (at most `MAX_WRITE_BYTES`), since a KV commit costs far more than its
 * bytes. Writes happen one flush after another, so a sender's inbox keys grow in the order its
 * messages were sent and the receiver reads them in that order.
 *
 * A batch is stored as UTF-8 JSON bytes, not as a structured value: its size in KV is then
 * exactly the size measured here, while a structured value can take far more than its JSON (two
 * bytes per character of a string holding one non-Latin-1 character, nine per number). The
 * channel carries the same bytes (`bus_batch.ts`), and both paths check what they read.
 *
 * Over the channel, batches are numbered, acknowledged and posted again when lost (Deno's
 * channel drops messages of a lagging isolate); a sender's messages to one isolate arrive once
 * and in order, also across the switch from KV to the channel when the isolate is found
 * (`bus_local.ts` says how).
 *
 * Backpressure (PROTOCOL.md, "Backpressure between isolates"): every message waits for the ones
 * queued before it, so the bytes queued, being written, or posted and not yet acknowledged are
 * capped, in total and per sender (`BusSender`, one per socket). A sender's share is
 * 1/`BUS_SENDER_SHARE` of the total while the bus is empty and shrinks as it fills, down to
 * `BUS_SENDER_RESERVE_BYTES`: many flooding sockets stop short of the total, and a sender with
 * little queued still gets through. `send` refuses a message beyond a cap instead of queueing it,
 * and a sender hears of each of its messages a write failed for (or that an isolate on the
 * channel never acknowledged); nothing is dropped unsaid.
 */
import { batches, decodeBatch, encodeMessage, type Queued } from "./bus_batch.ts";
import { channelId, channelName, LocalLinks } from "./bus_local.ts";
import { busKeys } from "./keys.ts";
import { commitUnchecked } from "./kv_retry.ts";
import {
  BUS_SENDER_RESERVE_BYTES,
  BUS_SENDER_SHARE,
  CONFIG_DEFAULTS,
  KV_LIMITS,
} from "./limits.ts";
import type { EvictionCode, JsonValue, ServerMessage } from "./protocol.ts";
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
    /** `after`: the versionstamp of the resume that replaced it; newer sockets stay. */
    | { code: "replaced"; after?: string }
    | {
      code: "evicted";
      evictionCode: Exclude<EvictionCode, "replaced">;
      /** For `kicked` and `ended`: the host who did it (absent from older servers). */
      by?: PeerId;
      /** For `mesh-incomplete`: the members it could not reach (absent from older servers). */
      unreachable?: PeerId[];
    }
  );

/** Send this server message to a member's socket held by the receiving isolate (`muted`). */
export interface DeliverNote {
  kind: "deliver";
  room: string;
  to: PeerId;
  message: ServerMessage;
}

/**
 * A host decided about a knock of a socket waiting in the receiving isolate's lobby (admitted,
 * turned away, or the room ended): read the knock and carry the decision out. The note only
 * says "look now"; the knock in KV is the decision of record.
 */
export interface LobbyNote {
  kind: "lobby";
  room: string;
  knock: PeerId;
  /** The room was ended by a host: the waiting socket gets `room-ended`. */
  ended?: boolean;
}

/**
 * What isolates tell each other; sender and receiver share this type. The shape is also the
 * stored JSON, so instances of different versions sharing a KV still understand each other:
 * change it only by adding. (A receiver ignores kinds it does not know.)
 */
export type BusMessage = SignalNote | RoomChangedNote | CloseNote | DeliverNote | LobbyNote;

/**
 * KV values are limited to 64 KiB (`KV_LIMITS.valueBytes`); keep a batch well below. One message
 * always fits: a signal's payload is at most 32 KiB of UTF-8 JSON (MAX_PAYLOAD_BYTES) plus a small
 * envelope.
 */
const MAX_BATCH_BYTES = KV_LIMITS.valueBytes - 16 * 1024;
/**
 * Bytes of batches one KV commit writes: several values per commit carry a flood several times
 * faster than one each (a commit's cost hardly depends on its size), and the cap on queued bytes
 * bounds delays by how fast they are written. Well under what a commit accepts
 * (`KV_LIMITS.mutationBytesPerOperation`, 800 KiB), since a commit holds the write lock of a
 * local KV file for its whole duration: ~15 ms for 512 KiB on the build machine.
 */
const MAX_WRITE_BYTES = 512 * 1024;
/** Inbox entries of a dead isolate are dropped by KV eventually; correctness never relies on it. */
const INBOX_TTL_MS = 5 * 60_000;
/**
 * Inbox entries read (and held in memory) at a time: at most 64 × 48 KiB = 3 MiB, however much a
 * flood has piled up in the inbox.
 */
const INBOX_PAGE = 64;

/**
 * Whoever answers for the messages it sends (a socket): its bytes are capped until they are
 * written or acknowledged, and it is told about each of its messages that could not be carried.
 * The bus keeps one count per sender object, so pass the same object for every message of one
 * socket.
 */
export interface BusSender {
  /**
   * A message of this sender was not written (KV failed after retries), or posted on the channel
   * and never acknowledged (the isolate went silent): take it for lost.
   */
  failed(message: BusMessage, error: unknown): void;
}

/**
 * What became of a message given to `send`: queued (it will be written, or its sender told it
 * was not), or refused: it would take its sender past its share (`sender-busy`) or the bus past
 * its cap (`bus-busy`), or the bus has stopped.
 */
export type BusSendResult = "queued" | "sender-busy" | "bus-busy" | "stopped";

/** A bus's counters (tests, the bench). */
export interface BusStats {
  /** Messages written to KV, the batches (KV values) and writes (commits) they took. */
  sent: number;
  batches: number;
  writes: number;
  /**
   * Messages carried over the channel (acknowledged), the batches that took, and batches posted
   * again (after a loss, or an acknowledgement late).
   */
  local: number;
  localBatches: number;
  resent: number;
  /**
   * Times a link to an isolate on the channel wrote what waited for it to that isolate's inbox
   * instead (a flood: KV copies bytes faster; counted in `sent`, `batches` and `writes` too).
   */
  localBulk: number;
  /** Messages handed to `onMessage`, from either path. */
  received: number;
  /**
   * Messages `send` refused (a cap was reached), and messages lost: to failed writes, or never
   * acknowledged on the channel.
   */
  refused: number;
  failed: number;
  /** Bytes queued, being written or unacknowledged now, and the most there ever were. */
  queuedBytes: number;
  peakQueuedBytes: number;
}

/** What a `Bus` needs: the database, its own isolate id, and what to do with what arrives. */
export interface BusOptions {
  kv: Deno.Kv;
  /** This isolate's id: the address other isolates send to. */
  isolate: string;
  /** Called for every message that arrives, once, in each sender's order. */
  onMessage: (message: BusMessage) => void;
  /** Fallback poll of the inbox, for writers the doorbell does not reach (other processes). */
  pollMs: number;
  /**
   * Cap on the bytes queued, being written or unacknowledged, all senders together
   * (`MOOZ_BUS_MAX_QUEUED_BYTES`); each sender may use its share of it (above). Messages without
   * a sender (room notes) are never refused but count towards it.
   */
  maxQueuedBytes?: number;
  /**
   * Whether to reach the isolates of this process that share `kv` over a channel (default
   * true). False sends everything through KV, as between processes: tests of that path, and the
   * bench's comparison.
   */
  local?: boolean;
}

/**
 * The message bus of one isolate: `send` to another isolate (over the channel if it is in this
 * process, else to its inbox in KV), receive from both.
 *
 * @example
 * ```ts
 * const bus = new Bus({ kv, isolate: "a", pollMs: 1_000, onMessage: (m) => console.log(m) });
 * bus.start();
 * bus.send("b", { kind: "roster", room });
 * // A socket's signal: refused beyond the caps; `sender.failed` hears of a failed write.
 * if (bus.send("b", signal, sender) !== "queued") conn.reject("relay-busy", "...");
 * await bus.stop();
 * ```
 */
export class Bus {
  readonly #kv: Deno.Kv;
  readonly #isolate: string;
  readonly #onMessage: (message: BusMessage) => void;
  readonly #pollMs: number;
  readonly #maxQueuedBytes: number;
  readonly #maxSenderBytes: number;
  #outbox = new Map<string, Queued[]>();
  /** Bytes queued or being written per sender; a sender leaves the map when it has none. */
  #senderBytes = new Map<BusSender, number>();
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
  readonly #local: boolean;
  /** The channel to this process's isolates, once its name was read from KV. */
  #links: LocalLinks | null = null;
  #opening: Promise<void> | null = null;
  #openFailed = false;
  /** Inbox reads started so far, and who waits for one that started after a point. */
  #readsStarted = 0;
  #readWaiters: { after: number; resolve: () => void }[] = [];
  readonly stats: BusStats = {
    sent: 0,
    batches: 0,
    writes: 0,
    local: 0,
    localBatches: 0,
    resent: 0,
    localBulk: 0,
    received: 0,
    refused: 0,
    failed: 0,
    queuedBytes: 0,
    peakQueuedBytes: 0,
  };

  constructor(opts: BusOptions) {
    this.#kv = opts.kv;
    this.#isolate = opts.isolate;
    this.#onMessage = opts.onMessage;
    this.#pollMs = opts.pollMs;
    this.#maxQueuedBytes = opts.maxQueuedBytes ?? CONFIG_DEFAULTS.busMaxQueuedBytes;
    this.#maxSenderBytes = Math.floor(this.#maxQueuedBytes / BUS_SENDER_SHARE);
    this.#local = opts.local ?? true;
  }

  /** The isolates this one reaches over the channel now (tests, the bench). */
  get localPeers(): string[] {
    return this.#links?.peers ?? [];
  }

  /** The caps `send` applies: in total, and per sender (its share of an empty bus). */
  get limits(): { maxQueuedBytes: number; maxSenderBytes: number } {
    return { maxQueuedBytes: this.#maxQueuedBytes, maxSenderBytes: this.#maxSenderBytes };
  }

  /**
   * Why `size` more bytes from a sender with `own` queued are refused (counted), or null: past
   * the bus's cap, or past the sender's share, which shrinks as the bus fills.
   */
  #refusal(own: number, size: number): "bus-busy" | "sender-busy" | null {
    const free = this.#maxQueuedBytes - this.stats.queuedBytes;
    const share = Math.max(
      BUS_SENDER_RESERVE_BYTES,
      this.#maxSenderBytes * free / this.#maxQueuedBytes,
    );
    const refusal = size > free ? "bus-busy" : own + size > share ? "sender-busy" : null;
    if (refusal) this.stats.refused++;
    return refusal;
  }

  /** Starts watching the doorbell and polling the inbox, and opens the channel. */
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
    this.#poll = setInterval(() => {
      this.#drain();
      this.#openLocal(); // if the first try failed (KV unreachable)
    }, this.#pollMs);
    this.#openLocal();
  }

  /** Reads the channel's name from KV and opens it; until then, everything goes through KV. */
  #openLocal(): void {
    if (!this.#local || this.#links || this.#opening || this.#stopped) return;
    const opening = (async () => {
      const name = channelName(await channelId(this.#kv));
      if (this.#stopped) return;
      this.#links = new LocalLinks({
        isolate: this.#isolate,
        name,
        stats: this.stats,
        deliver: (batch) => this.#deliver(batch),
        carried: (entries) => this.#release(entries),
        lost: (target, entries, err) => {
          this.#lost(target, entries, err);
          this.#release(entries);
        },
        reroute: (target, entries) => this.#enqueue(target, entries),
        kvFlushed: () => this.#flushing,
        inboxRead: () => this.#inboxRead(),
        writeInbox: (target, entries) => {
          const written = this.#write(target, entries);
          this.#track(written);
          return written;
        },
      });
    })().catch((err) => {
      // KV failures are logged by kv_health; say once what they mean here.
      if (!this.#openFailed) {
        console.error("The channel between isolates is not open yet; using KV meanwhile:", err);
      }
      this.#openFailed = true;
    }).finally(() => (this.#opening = null));
    this.#opening = opening;
    this.#track(opening);
  }

  /**
   * Queues a message for another isolate; it is written with others at the end of this turn.
   * A message with a `sender` is refused instead when it would take the bus past its cap or the
   * sender past its share; the caller must tell the sender.
   */
  send(isolate: string, message: BusMessage, sender?: BusSender): BusSendResult {
    if (this.#stopped) return "stopped";
    const own = sender ? this.#senderBytes.get(sender) ?? 0 : 0;
    // A flood is refused before it costs an encoding: a full bus or share takes nothing more.
    const full = sender && this.#refusal(own, 1);
    if (full) return full;
    const bytes = encodeMessage(message);
    const size = bytes.length;
    if (sender) {
      const refusal = this.#refusal(own, size);
      if (refusal) return refusal;
      this.#senderBytes.set(sender, own + size);
    }
    this.stats.queuedBytes += size;
    this.stats.peakQueuedBytes = Math.max(this.stats.peakQueuedBytes, this.stats.queuedBytes);
    const queued: Queued = { message, bytes, sender };
    if (!this.#links?.offer(isolate, queued)) this.#enqueue(isolate, [queued]);
    return "queued";
  }

  /** Queues messages (counted already) for `isolate`'s inbox, written at the end of the turn. */
  #enqueue(isolate: string, entries: Queued[]): void {
    let queue = this.#outbox.get(isolate);
    if (!queue) this.#outbox.set(isolate, queue = []);
    queue.push(...entries);
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      // Tracked from now on, so settle() and stop() wait for it even before the timer fires.
      const turn = new Promise((resolve) => setTimeout(resolve, 0));
      this.#flushing = Promise.all([turn, this.#flushing]).then(() => this.#flush())
        .catch((err) => console.error("Writing to the bus failed:", err));
      this.#track(this.#flushing);
    }
  }

  /**
   * Waits for the writes (also those queued this turn), the inbox reads in flight, and the
   * acknowledgements of what was posted on the channel.
   */
  async settle(): Promise<void> {
    for (;;) {
      if (this.#pending.size > 0) {
        await Promise.allSettled([...this.#pending]);
      } else if (this.#links && !this.#links.idle) {
        await this.#links.changed();
      } else {
        return;
      }
    }
  }

  /**
   * Stops reading the inbox and sending; what was sent before is still written (or carried over
   * the channel: the bus answers other isolates until that is acknowledged), then it says bye.
   */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#poll);
    await this.#watch?.cancel().catch(() => {});
    await this.#watching;
    await this.#opening;
    this.#links?.stopping();
    await this.settle();
    this.#links?.close();
    await this.settle();
    this.#readWaiters = [];
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
    await Promise.all([...outbox].map(([target, queued]) => this.#write(target, queued)));
  }

  /**
   * Writes messages to `target`'s inbox, in commits of at most `MAX_WRITE_BYTES`, one after the
   * other; a commit that fails loses its messages (their senders are told). Their bytes are
   * released either way.
   */
  async #write(target: string, queued: Queued[]): Promise<void> {
    for (const write of writes(batches(queued, MAX_BATCH_BYTES))) {
      // Keys taken now, in order, so this write's batches sort before the next write's.
      const keys = write.map(() => this.#nextKey(target));
      const ring = this.#seq;
      const entries = write.flatMap((batch) => batch.entries);
      try {
        await commitUnchecked("bus write", () => {
          const op = this.#kv.atomic();
          write.forEach((batch, i) => op.set(keys[i], batch.bytes, { expireIn: INBOX_TTL_MS }));
          return op.set(busKeys.bell(target), ring, { expireIn: INBOX_TTL_MS });
        });
        this.stats.sent += entries.length;
        this.stats.batches += write.length;
        this.stats.writes++;
      } catch (err) {
        this.#lost(target, entries, err);
      } finally {
        this.#release(entries);
      }
    }
  }

  /** Messages whose write failed: each sender hears of its own; the rest can only be logged. */
  #lost(target: string, entries: Queued[], err: unknown): void {
    this.stats.failed += entries.length;
    let told = 0;
    for (const { message, sender } of entries) {
      if (!sender) continue;
      told++;
      try {
        sender.failed(message, err);
      } catch (e) {
        console.error("Telling a sender about a failed bus write failed:", e);
      }
    }
    console.error(
      `Dropped ${entries.length} message(s) for isolate ${target}, ${told} of them told to ` +
        "their senders:",
      err,
    );
  }

  /** Written or lost: their bytes no longer count against the caps. */
  #release(entries: Queued[]): void {
    for (const { bytes, sender } of entries) {
      this.stats.queuedBytes -= bytes.length;
      if (!sender) continue;
      const left = (this.#senderBytes.get(sender) ?? 0) - bytes.length;
      if (left > 0) this.#senderBytes.set(sender, left);
      else this.#senderBytes.delete(sender);
    }
  }

  /** Reads and deletes everything in the inbox; one drain at a time, re-run if rung meanwhile. */
  #drain(): void {
    if (this.#stopped) return;
    if (this.#draining) {
      this.#drainAgain = true;
      return;
    }
    let failed = false;
    this.#draining = (async () => {
      do {
        this.#drainAgain = false;
        const read = ++this.#readsStarted;
        await this.#drainOnce();
        if (!this.#stopped) this.#readDone(read);
      } while (this.#drainAgain && !this.#stopped);
    })().catch((err) => {
      failed = true; // the poll tries again, not a loop here
      console.error("Reading the inbox failed:", err);
    }).finally(() => {
      this.#draining = null;
      // Rung between the loop's last check and now: that ring must not wait for the poll
      // (someone may wait for a read, `#inboxRead`).
      if (this.#drainAgain && !failed) this.#drain();
    });
    this.#track(this.#draining);
  }

  /** Resolves after a whole read of the inbox that starts after this call (`bus_local.ts`). */
  #inboxRead(): Promise<void> {
    const { promise, resolve } = Promise.withResolvers<void>();
    this.#readWaiters.push({ after: this.#readsStarted, resolve });
    this.#drain();
    return promise;
  }

  /** Inbox read number `read` went through to the end. */
  #readDone(read: number): void {
    const waiting = this.#readWaiters;
    this.#readWaiters = waiting.filter((w) => w.after >= read);
    for (const w of waiting) if (w.after < read) w.resolve();
  }

  /** Reads the inbox a page at a time, so a flood piled up in it never sits in memory at once. */
  async #drainOnce(): Promise<void> {
    const prefix = busKeys.inbox(this.#isolate);
    for (;;) {
      const entries = await Array.fromAsync(
        this.#kv.list<unknown>({ prefix }, { limit: INBOX_PAGE }),
      );
      if (entries.length === 0) return;
      // Delete first: a message is delivered at most once even if a handler throws.
      await commitUnchecked("inbox read", () => {
        const op = this.#kv.atomic();
        for (const e of entries) op.delete(e.key);
        return op;
      });
      this.#handle(entries);
      if (entries.length < INBOX_PAGE || this.#stopped) return;
    }
  }

  #handle(entries: Deno.KvEntry<unknown>[]): void {
    for (const entry of entries) {
      // The sender's id is in the key (`busKeys.message`): it may be on our channel.
      const sender = entry.key[3];
      if (typeof sender === "string") this.#links?.heardThroughKv(sender);
      if (entry.value instanceof Uint8Array) this.#deliver(entry.value);
      else console.error("Dropped an inbox entry that is not a batch:", entry.key);
    }
  }

  /** Hands the well-formed messages of a batch (from KV or the channel) to `onMessage`. */
  #deliver(batch: Uint8Array): void {
    const { messages, dropped } = decodeBatch(batch);
    if (dropped > 0) {
      console.error(`Dropped ${dropped} unreadable message(s) from another isolate.`);
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

/** Batches grouped into KV writes (below). */
interface Batch {
  entries: Queued[];
  bytes: Uint8Array;
}

/** Groups batches into KV writes of at most `MAX_WRITE_BYTES` each (one batch at least). */
function writes(all: Batch[]): Batch[][] {
  const out: Batch[][] = [];
  let group: Batch[] = [];
  let size = 0;
  for (const batch of all) {
    if (group.length > 0 && size + batch.bytes.length > MAX_WRITE_BYTES) {
      out.push(group);
      group = [];
      size = 0;
    }
    group.push(batch);
    size += batch.bytes.length;
  }
  if (group.length) out.push(group);
  return out;
}
