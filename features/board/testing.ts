/**
 * Test helpers: board engines joined by in-memory channels that carry the exact frames the
 * board's data channel would, in order, one task later. Links can be cut and made again (a
 * partition), and every frame is recorded.
 */
import type { PeerId } from "../../mesh/types.ts";
import { type BoardChannel, BoardEngine } from "./engine.ts";

class MemoryChannel implements BoardChannel {
  open = true;
  bufferedAmount = 0;
  constructor(
    readonly peer: PeerId,
    readonly deliver: (data: Uint8Array) => void,
  ) {}
  send(data: Uint8Array<ArrayBuffer>): void {
    if (!this.open) throw new Error("closed");
    this.deliver(data.slice());
  }
  drained(): Promise<void> {
    return Promise.resolve();
  }
}

/** Board engines by name, linked on demand. */
export class BoardNet {
  readonly engines = new Map<PeerId, BoardEngine>();
  readonly #links = new Map<string, [MemoryChannel, MemoryChannel]>();
  #pending = 0;
  #idle: (() => void)[] = [];
  /** Every frame delivered: sender, receiver, bytes. */
  readonly wire: { from: PeerId; to: PeerId; bytes: number; kind: number }[] = [];

  constructor(names: PeerId[]) {
    for (const name of names) this.add(name);
  }

  add(name: PeerId): BoardEngine {
    const engine = new BoardEngine();
    this.engines.set(name, engine);
    return engine;
  }

  engine(name: PeerId): BoardEngine {
    const e = this.engines.get(name);
    if (!e) throw new Error(`no engine ${name}`);
    return e;
  }

  /** Opens the board channel between a and b (each side attaches the other). */
  connect(a: PeerId, b: PeerId): void {
    const key = pair(a, b);
    if (this.#links.has(key)) return;
    const toB = new MemoryChannel(b, (data) => this.#deliver(a, b, data));
    const toA = new MemoryChannel(a, (data) => this.#deliver(b, a, data));
    this.#links.set(key, [toB, toA]);
    this.engine(a).attach(toB);
    this.engine(b).attach(toA);
  }

  connectAll(): void {
    const names = [...this.engines.keys()];
    for (const [i, a] of names.entries()) for (const b of names.slice(i + 1)) this.connect(a, b);
  }

  /** Cuts the link: frames in flight are lost, both sides detach. */
  cut(a: PeerId, b: PeerId): void {
    const link = this.#links.get(pair(a, b));
    if (!link) return;
    this.#links.delete(pair(a, b));
    for (const c of link) c.open = false;
    this.engines.get(a)?.detach(b);
    this.engines.get(b)?.detach(a);
  }

  linked(a: PeerId, b: PeerId): boolean {
    return this.#links.has(pair(a, b));
  }

  /** `name` leaves: its links go and everyone else hears it left. */
  remove(name: PeerId): void {
    for (const other of this.engines.keys()) if (other !== name) this.cut(name, other);
    this.engine(name).dispose();
    this.engines.delete(name);
    for (const e of this.engines.values()) e.peerLeft(name);
  }

  /** Delivers raw bytes to `to` as if `from`'s link carried them (what a hostile peer sends). */
  inject(from: PeerId, to: PeerId, data: Uint8Array | string): void {
    this.engine(to).receive(from, typeof data === "string" ? data : data.slice());
  }

  #deliver(from: PeerId, to: PeerId, data: Uint8Array): void {
    this.#pending++;
    this.wire.push({ from, to, bytes: data.length, kind: data[0] });
    setTimeout(() => {
      this.#pending--;
      if (this.#links.has(pair(from, to))) this.engines.get(to)?.receive(from, data);
      if (this.#pending === 0) this.#idle.splice(0).forEach((f) => f());
    }, 0);
  }

  /** Waits until nothing is in flight (answers included). */
  async flush(): Promise<void> {
    for (let i = 0; i < 1000; i++) {
      // Sends go through a promise chain per peer: let it run before looking.
      await new Promise((r) => setTimeout(r, 0));
      if (this.#pending === 0) {
        await new Promise((r) => setTimeout(r, 0));
        if (this.#pending === 0) return;
      }
      await new Promise<void>((r) => this.#idle.push(r));
    }
    throw new Error("the board network never settled");
  }

  dispose(): void {
    for (const e of this.engines.values()) e.dispose();
  }
}

function pair(a: PeerId, b: PeerId): string {
  return a < b ? `${a} ${b}` : `${b} ${a}`;
}
