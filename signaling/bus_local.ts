/**
 * Direct paths between the isolates of one process (`deno serve --parallel`), for the bus
 * (`bus.ts`): messages to an isolate of this process go over a `BroadcastChannel` instead of
 * through a KV commit and a read of its inbox. KV stays the path to every other isolate (other
 * processes, other instances on a remote KV) and the state of record; this is only a faster wire.
 *
 * **Which channel.** One per KV database: its name carries a random id stored once in the
 * database (`busKeys.channel`, set if absent), so isolates share a channel exactly when they
 * share a database and a process (a `BroadcastChannel` never leaves its process). Several hubs on
 * different databases in one test process never hear each other. The wire version is in the name
 * too: isolates of different versions never share a channel and reach each other through KV.
 *
 * **Discovery.** An isolate posts `hello` when its channel opens; whoever hears it answers `here`
 * and knows it from then on; `bye` when it stops. Any message from an isolate not known yet
 * introduces it too, and a KV message from another isolate makes this one say `hello` to it
 * (at most every `HELLO_EVERY_MS`): so a lost `hello` costs only speed, never a message. An
 * isolate not known here (another process, one that stopped, one that never answered) is sent
 * to through KV as before.
 *
 * **The channel loses messages.** Deno's channel between isolates is one queue of 256 messages
 * for the whole process; an isolate that falls further behind (busy event loop, a flood on any
 * channel) silently loses the oldest (measured with Deno 2.9.6: 1,000 messages posted at once,
 * 385 arrived). It keeps their order. So each link (this isolate to one other) numbers its
 * batches; the receiver delivers them only in order and answers with the next number it wants
 * (`ack`, one for the batches that arrived together, with `nack` when it saw a gap, and then it
 * drops what follows the gap); the sender keeps every batch until it is acknowledged, posts again
 * from the first unacknowledged one on a `nack` or after `RESEND_MS` without an answer (doubling
 * up to `MAX_RESEND_MS`), and has at most `WINDOW` batches unacknowledged. A peer that answers nothing
 * for `PEER_TIMEOUT_MS` is taken for dead: the senders of its unacknowledged messages are told
 * they were lost (as for a failed KV write; they may have arrived), and later messages go to its
 * inbox in KV.
 *
 * **Order when a peer is found.** Messages sent through KV to a peer before it was found must not
 * be overtaken by later ones on the channel. A new link starts with a handshake: the sender
 * waits until its KV writes to that peer have finished (from the moment the link exists, nothing
 * more for that peer goes to KV; later messages wait in the link), then posts `sync`; the
 * receiver reads its whole inbox in a read that starts after the `sync` arrived (KV reads are
 * strongly consistent, so that read sees every one of those writes, and delivers them), then
 * answers `synced`; only then does the sender post on the channel. A sender's earlier KV messages
 * are therefore all delivered before its first channel message. The handshake costs one inbox
 * read, once per pair of isolates. The other transition, channel to KV, happens only when the
 * peer is gone (`bye`, `PEER_TIMEOUT_MS`): what waited for it goes to its inbox, in order.
 *
 * **Bulk.** Deno's channel copies about 10 MB/s between isolates (measured with 2.9.6: about
 * 0.1 µs a byte on the event loop of each side, besides 0.13 ms a message), far slower than a KV
 * commit. That is nothing for ICE candidates and offers, but a flood of signals of the largest
 * size would take the event loops. So when `BULK_BYTES` of large messages (`LARGE_BYTES` or more
 * each) wait for a link, the link writes what waits to the peer's inbox in KV, as for an isolate
 * of another process, and posts `inbox` in its place in the numbered sequence: the receiver reads
 * its inbox (a read that starts then, as for `sync`) before it delivers the next batch, which it
 * holds meanwhile. A link writes to the inbox only when every batch it posted before was
 * acknowledged (the receiver may read its inbox at any time, and must not find there what comes
 * after a batch still on its way; earlier inbox writes it reads in order anyway), one write at a
 * time, and posts nothing more until the write is done. Only large
 * messages count: bursts of small ones (many joins at once) are what the channel is fast for,
 * and going through KV would only add its latency.
 *
 * **Backpressure.** A message counts against the bus's caps (PROTOCOL.md, "Backpressure between
 * isolates") until it is acknowledged, as it counts until written on the KV path: the sender must
 * keep it to post it again, so that memory needs the same bound. In practice an acknowledgement
 * comes within a turn or two of both event loops, so the caps bind only when the receiver falls
 * behind, which is when they should. The receiver's side is bounded by the window: a peer has at
 * most `WINDOW` batches of at most `MAX_BATCH_BYTES` unacknowledged, so at most that many wait in
 * this isolate's queue; the per-socket and per-address rate limits bound how fast they refill.
 *
 * **Trust.** What arrives on the channel is structured-cloned data of whatever else in the process
 * posts to that name: every message is checked for shape (`parseWire`), and batches are decoded
 * like KV's (`decodeBatch`); unknown kinds are ignored, nothing throws out of the handler.
 *
 * **Stop.** `stopping()` sends what waits for an unfinished handshake through KV (two stopping
 * isolates could otherwise wait for each other), the bus then waits until every link is
 * acknowledged, and `close()` posts `bye`, closes the channel and clears every timer.
 */
import type { BusStats } from "./bus.ts";
import { type Batch, type Queued, takeBatches } from "./bus_batch.ts";
import { busKeys } from "./keys.ts";
import { CONFLICT, retryKv } from "./kv_retry.ts";
import { isBoolean, isObject, isString } from "./json_guards.ts";
import { KV_LIMITS } from "./limits.ts";
import { randomBase64url } from "./tokens.ts";

/** Version of the wire format below, part of the channel's name. */
const WIRE_VERSION = 1;
/** Batches a link may have unacknowledged: far below the 256 messages of Deno's queue. */
export const WINDOW = 16;
/**
 * Bytes of one batch on the channel: as on KV, so one signal of the largest size always fits,
 * and a resend after a loss posts at most `WINDOW` times this.
 */
export const MAX_BATCH_BYTES = KV_LIMITS.valueBytes - 16 * 1024;
/**
 * A message this large or larger counts towards `BULK_BYTES`: more than an offer with its
 * candidates (a few KiB sealed), less than the largest signal (32 KiB).
 */
export const LARGE_BYTES = 8 * 1024;
/**
 * Bytes of large messages waiting for a link at which it writes what waits to the peer's inbox
 * instead (see "Bulk" above): two signals of the largest size; one flooding socket's share of the
 * bus is twice that.
 */
export const BULK_BYTES = 64 * 1024;
/** Bytes of messages written to the inbox at once on a link (at most one commit). */
const MAX_BULK_BYTES = 256 * 1024;
/** First wait for an acknowledgement before posting again; doubles up to `MAX_RESEND_MS`. */
export const RESEND_MS = 300;
const MAX_RESEND_MS = 2_000;
/** A peer silent this long, with something to answer, is taken for dead. */
export const PEER_TIMEOUT_MS = 10_000;
/** How often links are checked for answers overdue. */
const TICK_MS = 100;
/** Least time between two `hello`s to the same isolate heard from through KV. */
const HELLO_EVERY_MS = 5_000;
/** Isolates remembered for that (others than this process's, on a remote KV, could be many). */
const MAX_HELLOS = 1_024;

/** The channel's name for the database whose channel id is `id` (`channelId`). */
export function channelName(id: string): string {
  return `mooz-bus/${WIRE_VERSION}/${id}`;
}

/**
 * The id of the database `kv` for the channel: read once per bus, written by the first isolate
 * that finds none (a check keeps isolates starting together from choosing different ids).
 */
export async function channelId(kv: Deno.Kv): Promise<string> {
  return await retryKv("bus channel", async () => {
    const entry = await kv.get<unknown>(busKeys.channel);
    if (typeof entry.value === "string" && entry.value !== "") return entry.value;
    const id = randomBase64url(12);
    const res = await kv.atomic().check(entry).set(busKeys.channel, id).commit();
    return res.ok ? id : CONFLICT;
  });
}

// ---------------------------------------------------------------------------------------------
// The wire

/** Who posted: an isolate id and the run of it (`epoch`, new on every start). */
interface From {
  v: typeof WIRE_VERSION;
  from: string;
  epoch: string;
}

/** Addressed to one run of one isolate, on one of its links (`link`, from the sender's `sync`). */
interface To {
  to: string;
  toEpoch: string;
  link: number;
}

/**
 * What isolates post on the channel. `hello` (to all, or to one isolate) asks for `here`; `sync`
 * opens a link and `synced` answers it once the inbox was read; `data` carries batch number
 * `seq` of a link, `inbox` says that number `seq` was written to the receiver's inbox (read it
 * before going on); `ack` says which number the receiver wants next (`nack`: it saw a gap, or
 * dropped what came while it read its inbox).
 */
export type Wire =
  | From & { k: "hello"; to?: string }
  | From & { k: "here"; to: string }
  | From & { k: "bye" }
  | From & To & { k: "sync" | "synced" }
  | From & To & { k: "data"; seq: number; batch: Uint8Array }
  | From & To & { k: "inbox"; seq: number }
  | From & To & { k: "ack"; next: number; nack: boolean };

/** A wire message without the sender's part, which `#post` adds. */
type Body = Wire extends infer W ? (W extends unknown ? Omit<W, keyof From> : never) : never;

const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;

/** `data` as a `Wire`, or null when it is not one this version knows (then it is ignored). */
export function parseWire(data: unknown): Wire | null {
  if (!isObject(data) || data.v !== WIRE_VERSION) return null;
  if (!isString(data.from) || !isString(data.epoch)) return null;
  const to = isString(data.to) && isString(data.toEpoch) && isCount(data.link);
  let ok: boolean;
  switch (data.k) {
    case "hello":
      ok = data.to === undefined || isString(data.to);
      break;
    case "here":
      ok = isString(data.to);
      break;
    case "bye":
      ok = true;
      break;
    case "sync":
    case "synced":
      ok = to;
      break;
    case "data":
      ok = to && isCount(data.seq) && data.batch instanceof Uint8Array;
      break;
    case "inbox":
      ok = to && isCount(data.seq);
      break;
    case "ack":
      ok = to && isCount(data.next) && isBoolean(data.nack);
      break;
    default:
      ok = false;
  }
  return ok ? data as unknown as Wire : null;
}

// ---------------------------------------------------------------------------------------------
// Links

/** A batch posted and not yet acknowledged; `null`: written to the peer's inbox instead. */
interface Posted {
  seq: number;
  batch: Batch | null;
  sentAt: number;
}

/** This isolate's link to another: what waits for it, and what it has not acknowledged. */
interface OutLink {
  peer: string;
  /** The peer's run this link goes to. */
  epoch: string;
  id: number;
  /** `sync` until the peer answered the handshake; then `open`. */
  state: "sync" | "open";
  createdAt: number;
  /** When `sync` was last posted; null while the KV writes to the peer are still going on. */
  syncedAt: number | null;
  queue: Queued[];
  /** The bytes of large messages in `queue`. */
  largeBytes: number;
  posted: Posted[];
  nextSeq: number;
  /** Whether messages taken from the queue are being written to the peer's inbox. */
  writing: boolean;
  /** The last acknowledgement that freed something (or the start of the wait for one). */
  progressAt: number;
  resendMs: number;
}

/** What this isolate received on another's link to it. */
interface InLink {
  epoch: string;
  link: number;
  /** The batch number delivered next. */
  next: number;
  /** The `next` a `nack` was sent for: one per gap. */
  nacked: number;
  /** Whether the inbox was read since the `sync`: data is taken only then. */
  read: boolean;
  /** Whether an `inbox` batch is being read now: what arrives meanwhile is held... */
  reading: boolean;
  /** ...here, by number, until it is read (at most the sender's window; `null`: `inbox`). */
  held: Map<number, Uint8Array | null>;
}

/** What the bus gives its direct paths: its counters and its KV side. */
export interface LocalLinksOptions {
  isolate: string;
  /** The channel's name (`channelName`). */
  name: string;
  /** Counters kept on the bus's stats. */
  stats: Pick<BusStats, "local" | "localBatches" | "localBulk" | "resent">;
  /** A batch arrived in order: decode it and hand its messages on. */
  deliver(batch: Uint8Array): void;
  /** These messages were acknowledged: release their bytes. */
  carried(entries: Queued[]): void;
  /** These messages were posted and never acknowledged: tell their senders, release. */
  lost(target: string, entries: Queued[], error: Error): void;
  /** These messages are for an isolate not on the channel (any more): send them through KV. */
  reroute(target: string, entries: Queued[]): void;
  /** Resolves when the KV writes started so far have finished (or failed). */
  kvFlushed(): Promise<void>;
  /** Resolves after a whole read of this isolate's inbox that started after the call. */
  inboxRead(): Promise<void>;
  /**
   * Writes messages to `target`'s inbox in KV, as for an isolate not on the channel; resolves
   * when done (messages it could not write were reported to their senders).
   */
  writeInbox(target: string, entries: Queued[]): Promise<void>;
  /** How long a peer may leave a handshake or a batch unanswered (`PEER_TIMEOUT_MS`; tests). */
  peerTimeoutMs?: number;
}

/**
 * The direct paths of one bus: a `BroadcastChannel` to the isolates of this process that share
 * its database, with ordered, acknowledged delivery on it (see the module's documentation).
 *
 * @example
 * ```ts
 * const links = new LocalLinks({ isolate, name: channelName(await channelId(kv)), ... });
 * if (!links.offer("other-isolate", queued)) sendThroughKv("other-isolate", queued);
 * links.stopping();
 * while (!links.idle) await links.changed();
 * links.close();
 * ```
 */
export class LocalLinks {
  readonly #opts: LocalLinksOptions;
  readonly #epoch = randomBase64url(9);
  readonly #channel: BroadcastChannel;
  readonly #out = new Map<string, OutLink>();
  readonly #in = new Map<string, InLink>();
  /** Peers owed an acknowledgement once the current task is done, and whether it is a `nack`. */
  readonly #acks = new Map<string, boolean>();
  /** When this isolate last said `hello` to an isolate heard from through KV. */
  readonly #hellos = new Map<string, number>();
  #linkIds = 0;
  #pumpDue = false;
  #acksDue = false;
  #ticker: ReturnType<typeof setInterval> | undefined;
  #stopping = false;
  #closed = false;
  #postFailed = false;
  #changed = Promise.withResolvers<void>();

  constructor(opts: LocalLinksOptions) {
    this.#opts = opts;
    this.#channel = new BroadcastChannel(opts.name);
    this.#channel.onmessage = (e: MessageEvent<unknown>) => this.#onWire(e.data);
    this.#post({ k: "hello" });
  }

  /** The isolates of this process this one has a link to (tests). */
  get peers(): string[] {
    return [...this.#out.values()].filter((l) => l.state === "open").map((l) => l.peer);
  }

  /** Whether nothing waits for a peer: every message given was acknowledged, lost or rerouted. */
  get idle(): boolean {
    for (const link of this.#out.values()) {
      if (link.queue.length > 0 || link.posted.length > 0 || link.writing) return false;
    }
    return true;
  }

  /** Resolves at the next change towards `idle` (an acknowledgement, a peer gone). */
  changed(): Promise<void> {
    return this.#changed.promise;
  }

  /**
   * Takes a message for `target` if it is an isolate on the channel (it is posted once the current
   * task is done, with whatever else it sent, or once the handshake is done); false if it is not:
   * send it through KV.
   */
  offer(target: string, queued: Queued): boolean {
    const link = this.#out.get(target);
    if (!link || this.#stopping) return false;
    link.queue.push(queued);
    link.largeBytes += large(queued);
    if (link.state === "open") this.#schedulePump();
    return true;
  }

  /** A message came through KV from `sender`: say `hello`, in case it shares this channel. */
  heardThroughKv(sender: string): void {
    if (this.#stopping || sender === this.#opts.isolate) return;
    const now = Date.now();
    if (now - (this.#hellos.get(sender) ?? -Infinity) < HELLO_EVERY_MS) return;
    if (this.#hellos.size >= MAX_HELLOS) this.#hellos.clear();
    this.#hellos.set(sender, now);
    this.#post({ k: "hello", to: sender });
  }

  /**
   * The bus is stopping: no new links, and what waits for an unfinished handshake goes through
   * KV now. Open links carry on until acknowledged (the peer may be stopping too, and answers).
   */
  stopping(): void {
    this.#stopping = true;
    for (const link of [...this.#out.values()]) {
      if (link.state === "sync") this.#forget(link, []);
    }
  }

  /** Says `bye`, closes the channel and clears the timers; what is still unanswered is lost. */
  close(): void {
    if (this.#closed) return;
    this.#stopping = true;
    this.#sendAcks();
    this.#post({ k: "bye" });
    this.#closed = true;
    clearInterval(this.#ticker);
    this.#channel.close();
    const error = new Error("The bus stopped before another isolate acknowledged these.");
    for (const link of [...this.#out.values()]) this.#forget(link, link.posted, error);
    this.#in.clear();
  }

  #post(body: Body): void {
    if (this.#closed) return;
    const wire = { v: WIRE_VERSION, from: this.#opts.isolate, epoch: this.#epoch, ...body };
    try {
      this.#channel.postMessage(wire);
    } catch (err) {
      // As if the channel lost it (posted again, or the peer given up): never the caller's error.
      if (!this.#postFailed) console.error("Posting to the channel between isolates failed:", err);
      this.#postFailed = true;
    }
  }

  #notify(): void {
    this.#changed.resolve();
    this.#changed = Promise.withResolvers<void>();
  }

  #onWire(data: unknown): void {
    if (this.#closed) return;
    const wire = parseWire(data);
    if (!wire || wire.from === this.#opts.isolate) return;
    if ("to" in wire && wire.to !== undefined && wire.to !== this.#opts.isolate) return;
    if ("toEpoch" in wire && wire.toEpoch !== this.#epoch) return; // for an earlier run of ours
    try {
      switch (wire.k) {
        case "hello":
          this.#meet(wire.from, wire.epoch);
          return this.#post({ k: "here", to: wire.from });
        case "here":
          return this.#meet(wire.from, wire.epoch);
        case "bye":
          return this.#gone(wire.from, wire.epoch);
        case "sync":
          this.#meet(wire.from, wire.epoch);
          return this.#answerSync(wire.from, wire.epoch, wire.link);
        case "synced":
          return this.#synced(wire.from, wire.epoch, wire.link);
        case "data":
          return this.#receive(wire.from, wire.epoch, wire.link, wire.seq, wire.batch);
        case "inbox":
          return this.#receive(wire.from, wire.epoch, wire.link, wire.seq, null);
        case "ack":
          return this.#acked(wire.from, wire.epoch, wire.link, wire.next, wire.nack);
      }
    } catch (err) {
      console.error("Handling a message from another isolate failed:", err);
    }
  }

  // ---- Sending

  /** `peer` (in its run `epoch`) is on the channel: open a link to it unless there is one. */
  #meet(peer: string, epoch: string): void {
    const known = this.#out.get(peer);
    if (known?.epoch === epoch) return;
    // The same id in a new run (tests reuse ids): the old run is gone.
    if (known) this.#gone(peer, known.epoch);
    if (this.#stopping) return;
    const now = Date.now();
    const link: OutLink = {
      peer,
      epoch,
      id: ++this.#linkIds,
      state: "sync",
      createdAt: now,
      syncedAt: null,
      queue: [],
      largeBytes: 0,
      posted: [],
      nextSeq: 0,
      writing: false,
      progressAt: now,
      resendMs: RESEND_MS,
    };
    this.#out.set(peer, link);
    this.#startTicker();
    // From now on nothing for `peer` goes to KV; once what went there before is written, the
    // peer may read it and answer.
    this.#opts.kvFlushed().then(() => {
      if (this.#out.get(peer) !== link || this.#closed) return;
      link.syncedAt = Date.now();
      this.#post({ k: "sync", to: peer, toEpoch: epoch, link: link.id });
    });
  }

  #synced(peer: string, epoch: string, id: number): void {
    const link = this.#out.get(peer);
    if (!link || link.epoch !== epoch || link.id !== id || link.state !== "sync") return;
    link.state = "open";
    link.resendMs = RESEND_MS;
    this.#schedulePump();
  }

  /** A peer said `bye`, or restarted: what waited for it goes to its inbox, in order. */
  #gone(peer: string, epoch: string): void {
    const link = this.#out.get(peer);
    if (link?.epoch === epoch) this.#forget(link, []);
    if (this.#in.get(peer)?.epoch === epoch) this.#in.delete(peer);
  }

  /**
   * Drops a link: its `lost` batches' senders are told, everything else waiting for the peer
   * (unacknowledged batches included, if not lost) goes through KV.
   */
  #forget(link: OutLink, lost: Posted[], error?: Error): void {
    this.#out.delete(link.peer);
    const lostEntries = lost.flatMap((p) => p.batch?.entries ?? []);
    if (lostEntries.length > 0) this.#opts.lost(link.peer, lostEntries, error!);
    const rest = [
      ...link.posted.filter((p) => !lost.includes(p)).flatMap((p) => p.batch?.entries ?? []),
      ...link.queue,
    ];
    link.posted = [];
    link.queue = [];
    link.largeBytes = 0;
    if (rest.length > 0) this.#opts.reroute(link.peer, rest);
    this.#notify();
  }

  #schedulePump(): void {
    if (this.#pumpDue || this.#closed) return;
    this.#pumpDue = true;
    // Once the current task is done: what it sent goes in one batch, at once. (A timer would
    // batch more, but costs a millisecond or more per hop; under load the window batches anyway:
    // what waits for acknowledgements goes together.)
    queueMicrotask(() => {
      this.#pumpDue = false;
      if (this.#closed) return;
      for (const link of this.#out.values()) this.#pump(link);
    });
  }

  /**
   * Posts what is queued on an open link, as far as the window allows; or, when large messages
   * pile up, writes them to the peer's inbox once everything posted before was acknowledged.
   */
  #pump(link: OutLink): void {
    if (link.state !== "open" || link.writing || link.queue.length === 0) return;
    const now = Date.now();
    if (link.largeBytes >= BULK_BYTES) {
      // Earlier inbox writes may be unacknowledged (the receiver reads them in order anyway),
      // as many as the window allows.
      const clear = link.posted.every((p) => p.batch === null);
      if (clear && link.posted.length < WINDOW) this.#writeBulk(link);
      return;
    }
    if (link.posted.length === 0) link.progressAt = now;
    for (const batch of takeBatches(link.queue, MAX_BATCH_BYTES, WINDOW - link.posted.length)) {
      for (const entry of batch.entries) link.largeBytes -= large(entry);
      const posted = { seq: link.nextSeq++, batch, sentAt: now };
      link.posted.push(posted);
      this.#post(dataOf(link, posted));
      this.#opts.stats.localBatches++;
    }
    if (link.posted.length > 0) this.#startTicker();
  }

  /**
   * Writes the front of the queue to the peer's inbox, then posts `inbox` in its place. Only with
   * no batch unacknowledged before it: the peer may read its inbox any time, and must not find
   * there what comes after a batch still on its way.
   */
  #writeBulk(link: OutLink): void {
    const taken: Queued[] = [];
    let bytes = 0;
    while (link.queue.length > 0 && (taken.length === 0 || bytes < MAX_BULK_BYTES)) {
      const next = link.queue.shift()!;
      taken.push(next);
      bytes += next.bytes.length;
      link.largeBytes -= large(next);
    }
    link.writing = true;
    this.#opts.writeInbox(link.peer, taken).then(() => {
      link.writing = false;
      // A link dropped meanwhile: what was written waits in the inbox like any other.
      if (this.#out.get(link.peer) !== link || this.#closed) return this.#notify();
      // Also after a failed write (its senders were told): part of it may have been written.
      const now = Date.now();
      const posted = { seq: link.nextSeq++, batch: null, sentAt: now };
      link.progressAt = now;
      link.posted.push(posted);
      this.#post(dataOf(link, posted));
      this.#opts.stats.localBulk++;
      this.#startTicker();
      this.#schedulePump();
    });
  }

  #acked(peer: string, epoch: string, id: number, next: number, nack: boolean): void {
    const link = this.#out.get(peer);
    if (!link || link.epoch !== epoch || link.id !== id || link.state !== "open") return;
    const done: Queued[] = [];
    let freed = false;
    while (link.posted.length > 0 && link.posted[0].seq < next) {
      done.push(...link.posted.shift()!.batch?.entries ?? []);
      freed = true;
    }
    if (freed) {
      link.progressAt = Date.now();
      link.resendMs = RESEND_MS;
      this.#opts.stats.local += done.length;
      if (done.length > 0) this.#opts.carried(done);
      this.#schedulePump();
      this.#notify();
    }
    if (nack && link.posted[0]?.seq === next) this.#resend(link);
  }

  /** Posts every unacknowledged batch again, from the first (the receiver drops copies). */
  #resend(link: OutLink): void {
    const now = Date.now();
    for (const posted of link.posted) {
      posted.sentAt = now;
      this.#post(dataOf(link, posted));
    }
    this.#opts.stats.resent += link.posted.length;
  }

  #startTicker(): void {
    if (this.#ticker !== undefined || this.#closed) return;
    this.#ticker = setInterval(() => this.#tick(), TICK_MS);
  }

  /** Posts again what is overdue, gives up on silent peers, stops when nothing waits. */
  #tick(): void {
    const now = Date.now();
    let waiting = false;
    for (const link of [...this.#out.values()]) {
      const waitingSince = link.state === "sync" ? link.createdAt : link.progressAt;
      if (link.state === "open" && link.posted.length === 0) continue;
      const timeout = this.#opts.peerTimeoutMs ?? PEER_TIMEOUT_MS;
      if (now - waitingSince >= timeout) {
        const error = new Error(
          `Isolate ${link.peer} answered nothing on the channel for ${timeout} ms.`,
        );
        this.#forget(link, link.posted, error);
        continue;
      }
      waiting = true;
      const last = link.state === "sync" ? link.syncedAt : link.posted[0].sentAt;
      if (last === null || now - last < link.resendMs) continue;
      link.resendMs = Math.min(MAX_RESEND_MS, link.resendMs * 2);
      if (link.state === "sync") {
        link.syncedAt = now;
        this.#post({ k: "sync", to: link.peer, toEpoch: link.epoch, link: link.id });
      } else {
        this.#resend(link);
      }
    }
    if (!waiting) {
      clearInterval(this.#ticker);
      this.#ticker = undefined;
    }
  }

  // ---- Receiving

  /**
   * A peer opens a link: its KV messages so far must be delivered before its first batch here,
   * so the answer waits for a read of the inbox that starts now.
   */
  #answerSync(peer: string, epoch: string, id: number): void {
    const known = this.#in.get(peer);
    if (known?.epoch === epoch && known.link >= id) {
      // A repeat (our answer was lost, or is still coming): answer again once read.
      if (known.link === id && known.read) {
        this.#post({ k: "synced", to: peer, toEpoch: epoch, link: id });
      }
      return;
    }
    const link: InLink = {
      epoch,
      link: id,
      next: 0,
      nacked: -1,
      read: false,
      reading: false,
      held: new Map(),
    };
    this.#in.set(peer, link);
    this.#opts.inboxRead().then(() => {
      if (this.#in.get(peer) !== link || this.#closed) return;
      link.read = true;
      this.#post({ k: "synced", to: peer, toEpoch: epoch, link: id });
    });
  }

  /** Batch `seq` of a peer's link, or (`null`) word that it is in this isolate's inbox. */
  #receive(peer: string, epoch: string, id: number, seq: number, batch: Uint8Array | null): void {
    const link = this.#in.get(peer);
    if (!link || link.epoch !== epoch || link.link !== id || !link.read) return;
    if (link.reading) {
      // Waiting for the inbox: what comes next waits too.
      if (seq > link.next && link.held.size < WINDOW) link.held.set(seq, batch);
      return;
    }
    if (seq === link.next) {
      this.#take(peer, link, batch);
    } else if (seq < link.next) {
      this.#owe(peer, false); // a copy: our acknowledgement may have been lost
    } else if (link.nacked !== link.next) {
      // A gap: what follows it is dropped and will come again from the gap.
      link.nacked = link.next;
      this.#owe(peer, true);
    }
  }

  /**
   * Delivers batch number `link.next`, or first what the peer wrote to the inbox (`null`: a read
   * that starts now), then what was held after it, in order; what is held after a gap there is
   * asked for again.
   */
  #take(peer: string, link: InLink, batch: Uint8Array | null): void {
    for (let next: Uint8Array | null = batch;;) {
      this.#owe(peer, false);
      if (next === null) {
        link.reading = true;
        this.#opts.inboxRead().then(() => {
          if (this.#in.get(peer) !== link || this.#closed) return;
          link.reading = false;
          link.next++;
          if (link.held.has(link.next)) return this.#takeHeld(peer, link);
          this.#owe(peer, link.held.size > 0);
          link.held.clear();
        });
        return;
      }
      link.next++;
      this.#opts.deliver(next);
      if (!link.held.has(link.next)) break;
      next = link.held.get(link.next)!;
      link.held.delete(link.next);
    }
    this.#owe(peer, link.held.size > 0);
    link.held.clear();
  }

  #takeHeld(peer: string, link: InLink): void {
    const batch = link.held.get(link.next)!;
    link.held.delete(link.next);
    this.#take(peer, link, batch);
  }

  #owe(peer: string, nack: boolean): void {
    this.#acks.set(peer, nack || (this.#acks.get(peer) ?? false));
    if (this.#acksDue || this.#closed) return;
    this.#acksDue = true;
    // After the batches that arrived together were handled: one acknowledgement for them all.
    queueMicrotask(() => {
      this.#acksDue = false;
      this.#sendAcks();
    });
  }

  #sendAcks(): void {
    for (const [peer, nack] of this.#acks) {
      const link = this.#in.get(peer);
      if (link) {
        this.#post({
          k: "ack",
          to: peer,
          toEpoch: link.epoch,
          link: link.link,
          next: link.next,
          nack,
        });
      }
    }
    this.#acks.clear();
  }
}

/** What posts `posted` on `link`: its batch, or word that it is in the inbox. */
function dataOf(link: OutLink, posted: Posted): Body {
  const to = { to: link.peer, toEpoch: link.epoch, link: link.id, seq: posted.seq };
  return posted.batch ? { k: "data", ...to, batch: posted.batch.bytes } : { k: "inbox", ...to };
}

/** The bytes `queued` counts towards `BULK_BYTES`. */
function large(queued: Queued): number {
  return queued.bytes.length >= LARGE_BYTES ? queued.bytes.length : 0;
}
