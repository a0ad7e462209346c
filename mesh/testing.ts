/**
 * Test helpers for features and the feature host: several `FeatureHost`s in one process, joined
 * by in-memory links that deliver the exact strings a data channel would carry, in order, one
 * task later. The host and the features are the real code; only the data channel is replaced (the
 * end-to-end tests in tests/ run the real one between browsers).
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
import { MAX_MESSAGE_BYTES } from "./envelope.ts";
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

  constructor(peers: PeerId[]) {
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

  /** Opens the link between two participants; both hosts hear `link-open` (a first, as WebRTC). */
  connect(a: PeerId, b: PeerId): void {
    this.#open.add(pair(a, b));
    this.#roster.value = [...this.#roster.peek()]; // links changed: peers recompute
    this.host(a).linkOpened(b);
    this.host(b).linkOpened(a);
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
      if (pending === this.#pending) return;
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
