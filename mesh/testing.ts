/**
 * Test helpers for features and the feature host: several `FeatureHost`s in one process, joined
 * by in-memory links that deliver the exact strings a data channel would carry, in order, one
 * task later. The host and the features are the real code; only the data channel is replaced (the
 * end-to-end tests in tests/ run the real one between browsers).
 *
 * Feature channels (`ctx.channel`) are in-memory too (`MemoryDataChannel`), with what a feature's
 * flow control must cope with in Chromium: `maxMessageSize` 256 KiB, a `bufferedAmount` that
 * falls only as the other side receives, `bufferedamountlow`, and "send queue is full" past
 * 16 MiB queued.
 *
 * @example
 * ```ts
 * const mesh = new TestMesh(["ada", "bob"]);
 * const chatOfAda = mesh.host("ada").create(chat);
 * mesh.host("bob").create(chat);
 * mesh.connectAll();
 * chatOfAda.send("hi");
 * await mesh.flush();
 * ```
 */
import { computed, type Signal, signal } from "@preact/signals-core";
import { byteLength, MAX_MESSAGE_BYTES } from "./envelope.ts";
import { FeatureHost } from "./feature_host.ts";
import type { Notice, PeerId, PeerView } from "./types.ts";

interface Member {
  host: FeatureHost;
  self: Signal<PeerId | null>;
  notices: { kind: Notice["kind"]; text: string }[];
}

/** Several feature hosts, each a participant; links open only when `connect` is called. */
export class TestMesh {
  readonly #members = new Map<PeerId, Member>();
  /** Pairs whose link is open: `a b` with a < b. */
  readonly #open = new Set<string>();
  readonly #roster = signal<PeerId[]>([]);
  #pending: Promise<void> = Promise.resolve();
  /** Every string delivered, with its sender and receiver (to assert on the wire format). */
  readonly wire: { from: PeerId; to: PeerId; text: string }[] = [];
  /** Feature channels of open links: `${from} ${to} ${label}` → `from`'s end. */
  readonly #channels = new Map<string, MemoryDataChannel>();
  readonly #channelOptions: MemoryChannelOptions;

  /** `channels` sets the in-memory feature channels' pace and limits (see `MemoryDataChannel`). */
  constructor(peers: PeerId[], channels: MemoryChannelOptions = {}) {
    this.#channelOptions = channels;
    for (const peer of peers) this.add(peer);
  }

  /**
   * A new participant (in the roster, no link yet). Features created on its host after this call
   * did not hear `peer-joined` for those already there; the core's do (create features first).
   */
  add(peer: PeerId): FeatureHost {
    const self = signal<PeerId | null>(peer);
    const notices: Member["notices"] = [];
    const peers = computed<PeerView[]>(() =>
      this.#roster.value.filter((p) => p !== peer).map((p) => ({
        peer: p,
        name: p.charAt(0).toUpperCase() + p.slice(1),
        link: this.#isOpen(peer, p) ? "connected" : "connecting",
        online: true,
      }))
    );
    const host = new FeatureHost({
      links: {
        send: (to, text) => this.#deliver(peer, to, text),
        openPeers: () => this.#roster.peek().filter((p) => p !== peer && this.#isOpen(peer, p)),
        maxMessageSize: () => MAX_MESSAGE_BYTES,
      },
      self,
      selfName: peer.charAt(0).toUpperCase() + peer.slice(1),
      peers,
      notify: (kind, text) => notices.push({ kind, text }),
    });
    const others = [...this.#members.keys()];
    this.#members.set(peer, { host, self, notices });
    this.#roster.value = [...this.#roster.peek(), peer];
    for (const other of others) this.host(other).emit("peer-joined", peer);
    return host;
  }

  host(peer: PeerId): FeatureHost {
    const member = this.#members.get(peer);
    if (!member) throw new Error(`No participant ${peer} in this test mesh.`);
    return member.host;
  }

  /** The toasts a participant's features showed. */
  notices(peer: PeerId): { kind: Notice["kind"]; text: string }[] {
    return this.#members.get(peer)?.notices ?? [];
  }

  /**
   * Opens the link between two participants; both hosts hear `link-open` (a first, as WebRTC),
   * and every feature channel `a`'s host declares opens a moment later, as on a new link.
   */
  connect(a: PeerId, b: PeerId): void {
    this.#open.add(pair(a, b));
    this.#roster.value = [...this.#roster.peek()]; // links changed: peers recompute
    this.host(a).linkOpened(b);
    this.host(b).linkOpened(a);
    for (const label of this.host(a).channelLabels) {
      const [ours, theirs] = MemoryDataChannel.pair(label, this.#channelOptions);
      this.#channels.set(`${a} ${b} ${label}`, ours);
      this.#channels.set(`${b} ${a} ${label}`, theirs);
      this.host(a).attachChannel(b, label, ours as unknown as RTCDataChannel);
      this.host(b).attachChannel(a, label, theirs as unknown as RTCDataChannel);
      ours.openSoon();
    }
  }

  /**
   * The link between two participants goes down (both stay in the meeting): its feature
   * channels close, and nothing more is delivered either way until `connect` makes a new one.
   */
  disconnect(a: PeerId, b: PeerId): void {
    this.#open.delete(pair(a, b));
    this.#roster.value = [...this.#roster.peek()];
    for (const [key, channel] of [...this.#channels]) {
      const [from, to] = key.split(" ");
      if ((from === a && to === b) || (from === b && to === a)) {
        this.#channels.delete(key);
        channel.close();
      }
    }
  }

  /**
   * `from`'s end of the feature channel `label` (`f:<feature>/<name>`) to `to`, while their link
   * is open: send on it what a modified client could, or read its counters.
   */
  channel(from: PeerId, to: PeerId, label: string): MemoryDataChannel {
    const channel = this.#channels.get(`${from} ${to} ${label}`);
    if (!channel) throw new Error(`No open channel ${label} from ${from} to ${to}.`);
    return channel;
  }

  /** Opens every link not open yet. */
  connectAll(): void {
    const peers = [...this.#members.keys()];
    for (const [i, a] of peers.entries()) {
      for (const b of peers.slice(i + 1)) if (!this.#isOpen(a, b)) this.connect(a, b);
    }
  }

  /** `peer` leaves: its links close and everyone else hears `peer-left`. */
  remove(peer: PeerId): void {
    for (const key of [...this.#open]) if (key.split(" ").includes(peer)) this.#open.delete(key);
    for (const [key, channel] of [...this.#channels]) {
      if (!key.split(" ").slice(0, 2).includes(peer)) continue;
      this.#channels.delete(key);
      channel.close();
    }
    this.#members.delete(peer);
    this.#roster.value = this.#roster.peek().filter((p) => p !== peer);
    for (const { host } of this.#members.values()) {
      host.peerGone(peer);
      host.emit("peer-left", peer);
    }
  }

  /** Delivers `data` to `to` as if `from`'s link carried it: what a modified client could send. */
  inject(from: PeerId, to: PeerId, data: unknown): void {
    this.host(to).receive(from, data);
  }

  /** Waits until everything sent so far (and what it caused) has been delivered. */
  async flush(): Promise<void> {
    for (let i = 0; i < 100; i++) {
      const pending = this.#pending;
      await pending;
      await new Promise((resolve) => setTimeout(resolve, 0));
      const idle = [...this.#channels.values()].every((c) => c.bufferedAmount === 0);
      if (pending === this.#pending && idle) return;
    }
    throw new Error("The test mesh never settled: features keep answering each other.");
  }

  #isOpen(a: PeerId, b: PeerId): boolean {
    return this.#open.has(pair(a, b));
  }

  #deliver(from: PeerId, to: PeerId, text: string): boolean {
    if (!this.#isOpen(from, to)) return false;
    this.wire.push({ from, to, text });
    // Like a data channel: in order, never synchronously.
    this.#pending = this.#pending.then(() =>
      new Promise<void>((resolve) =>
        setTimeout(() => {
          this.#members.get(to)?.host.receive(from, text);
          resolve();
        }, 0)
      )
    );
    return true;
  }
}

function pair(a: PeerId, b: PeerId): string {
  return a < b ? `${a} ${b}` : `${b} ${a}`;
}

/** Pace and limits of in-memory feature channels. */
export interface MemoryChannelOptions {
  /** Largest message (default 256 KiB, Chromium's `max-message-size`). */
  maxMessageSize?: number;
  /** `send` throws "send queue is full" past this many queued bytes (default 16 MiB, Chromium). */
  queueLimit?: number;
  /** Bytes delivered per macrotask, the link's "bandwidth" (default 1 MiB). */
  bytesPerTick?: number;
}

/**
 * One end of an in-memory data channel pair, with the parts of `RTCDataChannel` that
 * `PeerChannelHandle` uses. What is sent is copied (as a browser does) and delivered to the other
 * end in order, `bytesPerTick` at a time; `bufferedAmount` falls as it is delivered, and
 * `bufferedamountlow` fires when it crosses `bufferedAmountLowThreshold`.
 */
export class MemoryDataChannel extends EventTarget {
  readyState: RTCDataChannelState = "connecting";
  binaryType: BinaryType = "arraybuffer";
  bufferedAmount = 0;
  bufferedAmountLowThreshold = 0;
  onmessage: ((event: MessageEvent) => void) | null = null;
  onclose: ((event: Event) => void) | null = null;
  /** Messages sent on this end, and their bytes (counters for tests). */
  sentMessages = 0;
  sentBytes = 0;
  /** The highest `bufferedAmount` this end reached. */
  maxBufferedAmount = 0;
  readonly maxMessageSize: number;
  readonly #queueLimit: number;
  readonly #bytesPerTick: number;
  #other: MemoryDataChannel | null = null;
  readonly #queue: { data: string | ArrayBuffer; bytes: number }[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;

  private constructor(readonly label: string, o: MemoryChannelOptions) {
    super();
    this.maxMessageSize = o.maxMessageSize ?? MAX_MESSAGE_BYTES;
    this.#queueLimit = o.queueLimit ?? 16 * 1024 * 1024;
    this.#bytesPerTick = o.bytesPerTick ?? 1024 * 1024;
  }

  /** Two connected ends, not open yet (`openSoon`). */
  static pair(label: string, o: MemoryChannelOptions = {}): [MemoryDataChannel, MemoryDataChannel] {
    const a = new MemoryDataChannel(label, o), b = new MemoryDataChannel(label, o);
    a.#other = b;
    b.#other = a;
    return [a, b];
  }

  /** Both ends open one task later, as a new channel does. */
  openSoon(): void {
    setTimeout(() => {
      for (const end of [this, this.#other!]) {
        if (end.readyState !== "connecting") continue;
        end.readyState = "open";
        end.dispatchEvent(new Event("open"));
      }
    }, 0);
  }

  send(data: string | ArrayBuffer | ArrayBufferView): void {
    if (this.readyState !== "open") {
      throw new DOMException("RTCDataChannel.readyState is not 'open'", "InvalidStateError");
    }
    let copy: string | ArrayBuffer;
    if (typeof data === "string") copy = data;
    else if (data instanceof ArrayBuffer) copy = data.slice(0);
    else copy = new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice().buffer;
    const bytes = typeof copy === "string" ? byteLength(copy) : copy.byteLength;
    if (bytes > this.maxMessageSize) throw new TypeError("Message too large");
    if (this.bufferedAmount + bytes > this.#queueLimit) {
      throw new DOMException("send queue is full", "OperationError");
    }
    this.sentMessages++;
    this.sentBytes += bytes;
    this.bufferedAmount += bytes;
    this.maxBufferedAmount = Math.max(this.maxBufferedAmount, this.bufferedAmount);
    this.#queue.push({ data: copy, bytes });
    this.#timer ??= setTimeout(() => this.#deliver(), 0);
  }

  close(): void {
    for (const end of [this, this.#other!]) {
      if (end.readyState === "closed") continue;
      end.readyState = "closed";
      clearTimeout(end.#timer);
      end.#timer = undefined;
      end.#queue.length = 0;
      end.bufferedAmount = 0;
      setTimeout(() => {
        const event = new Event("close");
        end.onclose?.(event);
        end.dispatchEvent(event);
      }, 0);
    }
  }

  #deliver(): void {
    this.#timer = undefined;
    let budget = this.#bytesPerTick;
    while (this.#queue.length > 0 && budget > 0 && this.readyState === "open") {
      const { data, bytes } = this.#queue.shift()!;
      budget -= bytes;
      const before = this.bufferedAmount;
      this.bufferedAmount -= bytes;
      const other = this.#other!;
      if (other.readyState === "open") other.onmessage?.(new MessageEvent("message", { data }));
      const low = this.bufferedAmountLowThreshold;
      if (before > low && this.bufferedAmount <= low) {
        this.dispatchEvent(new Event("bufferedamountlow"));
      }
    }
    if (this.#queue.length > 0) this.#timer = setTimeout(() => this.#deliver(), 0);
  }
}
