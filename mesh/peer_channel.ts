/**
 * `PeerChannel` (mesh/feature.ts) over an `RTCDataChannel`: size checks, flow control and
 * listeners that a feature can add and remove without touching the channel's handlers.
 */
import { fitsBytes } from "./envelope.ts";
import type { PeerChannel } from "./feature.ts";
import type { PeerId } from "./types.ts";

/** Flow control target when `drained()` is called without one: 1 MiB (see FIELD-NOTES). */
const DEFAULT_LOW_WATER = 1 << 20;

/** A feature's channel to one peer (see `PeerChannel`). */
export class PeerChannelHandle implements PeerChannel {
  readonly #channel: RTCDataChannel;
  readonly #messages = new Set<(data: string | ArrayBuffer) => void>();
  readonly #closes = new Set<() => void>();

  readonly #maxMessageSize: () => number;

  /** `maxMessageSize` reads the link's negotiated limit (it is known only once connected). */
  constructor(readonly peer: PeerId, channel: RTCDataChannel, maxMessageSize: () => number) {
    this.#channel = channel;
    this.#maxMessageSize = maxMessageSize;
    channel.binaryType = "arraybuffer";
    channel.onmessage = (e) => {
      for (const fn of this.#messages) fn(e.data);
    };
    channel.onclose = () => {
      for (const fn of this.#closes) fn();
    };
  }

  get open(): boolean {
    return this.#channel.readyState === "open";
  }

  get maxMessageSize(): number {
    return this.#maxMessageSize();
  }

  get bufferedAmount(): number {
    return this.#channel.bufferedAmount;
  }

  send(data: string | ArrayBuffer | ArrayBufferView<ArrayBuffer>): void {
    if (!this.open) throw new Error(`The channel to ${this.peer} is not open.`);
    const max = this.maxMessageSize;
    if (typeof data === "string" ? !fitsBytes(data, max) : data.byteLength > max) {
      throw new Error(
        `A message is over the ${max}-byte limit of this channel: send it in smaller pieces.`,
      );
    }
    // The overloads of send() take each type separately.
    this.#channel.send(data as ArrayBuffer);
  }

  drained(lowWater = DEFAULT_LOW_WATER): Promise<void> {
    const channel = this.#channel;
    if (channel.bufferedAmount <= lowWater || channel.readyState !== "open") {
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      channel.bufferedAmountLowThreshold = lowWater;
      const done = () => {
        channel.removeEventListener("bufferedamountlow", done);
        channel.removeEventListener("close", done);
        resolve();
      };
      channel.addEventListener("bufferedamountlow", done);
      channel.addEventListener("close", done);
    });
  }

  onMessage(handler: (data: string | ArrayBuffer) => void): () => void {
    this.#messages.add(handler);
    return () => this.#messages.delete(handler);
  }

  onClose(handler: () => void): () => void {
    this.#closes.add(handler);
    return () => this.#closes.delete(handler);
  }

  /** Runs `fn` once the channel is open (at once if it is). */
  whenOpen(fn: () => void): void {
    if (this.open) fn();
    else this.#channel.addEventListener("open", fn, { once: true });
  }

  close(): void {
    this.#channel.close();
  }
}
