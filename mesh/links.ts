/**
 * The meeting's links: one record per other member, holding its `PeerLink`, the streams it sent
 * and its connection quality. Follows the roster (a link per member, none for anyone else), puts
 * local media on every link, and measures them.
 */
import type { LocalMedia } from "./local_media.ts";
import { parseSignalPayload, PeerLink, type SignalPayload } from "./peer_link.ts";
import { linkQuality, type QualitySample } from "./quality.ts";
import type { LinkQuality, LinkState, LinkStats, PeerId } from "./types.ts";

/** Quality of a link not measured yet. */
export const UNKNOWN_QUALITY: LinkQuality = {
  rttMs: null,
  loss: null,
  outgoingBitrate: null,
  level: "unknown",
};

/** One other member, as far as our link to it goes. */
export interface LinkRecord {
  readonly peer: PeerId;
  readonly link: PeerLink;
  /** Every stream it sent us, by id (camera and screen; presence tells which is which). */
  readonly streams: Map<string, MediaStream>;
  quality: LinkQuality;
  audioLevel: number;
  sample?: QualitySample;
}

/** What the links need and whom they tell about changes. */
export interface LinksOptions {
  self: PeerId;
  rtc: RTCConfiguration;
  media: LocalMedia;
  /** Labels of the feature channels every link carries. */
  channels: readonly string[];
  signal(to: PeerId, payload: SignalPayload): void;
  /** Something about a link changed (state, streams, quality): re-render. */
  onChange(): void;
  onState(peer: PeerId, state: LinkState): void;
  onOpen(peer: PeerId): void;
  onMessage(peer: PeerId, data: unknown): void;
  onChannel(peer: PeerId, label: string, channel: RTCDataChannel): void;
  /** The peer's DTLS certificate is not the one its sealed description named; its link closed. */
  onCertificateMismatch?(peer: PeerId): void;
}

/** Every link of the meeting, by peer; follows the roster (`sync`). */
export class Links {
  readonly #o: LinksOptions;
  readonly #records = new Map<PeerId, LinkRecord>();

  constructor(opts: LinksOptions) {
    this.#o = opts;
  }

  get(peer: PeerId): LinkRecord | undefined {
    return this.#records.get(peer);
  }

  values(): IterableIterator<LinkRecord> {
    return this.#records.values();
  }

  /** Makes the links match the members (us excluded); returns the peers whose link went. */
  sync(members: readonly PeerId[]): PeerId[] {
    const present = new Set(members.filter((p) => p !== this.#o.self));
    for (const peer of present) if (!this.#records.has(peer)) this.#add(peer);
    const removed = [...this.#records.keys()].filter((p) => !present.has(p));
    for (const peer of removed) this.drop(peer);
    return removed;
  }

  /**
   * A signal from `from`. A newcomer's offer can arrive before the roster that announces it; the
   * server relays only between members of one room, so the sender is a member: link it now.
   */
  receive(from: PeerId, raw: unknown): void {
    const payload = parseSignalPayload(raw);
    if (!payload || from === this.#o.self) return;
    const record = this.#records.get(from) ?? this.#add(from);
    record.link.receive(payload).catch((err) => console.warn(`Signal from ${from} failed:`, err));
  }

  /** Sends on the core channel to `peer`; false when it is not open. */
  send(peer: PeerId, text: string): boolean {
    return this.#records.get(peer)?.link.send(text) ?? false;
  }

  /** Peers whose core channel is open. */
  openPeers(): PeerId[] {
    return [...this.#records.values()].filter((r) => r.link.channelOpen).map((r) => r.peer);
  }

  maxMessageSize(peer: PeerId): number {
    return this.#records.get(peer)?.link.maxMessageSize ?? 0;
  }

  /** Puts a new camera or microphone track (null: off) on every link. */
  async replaceTrack(kind: "audio" | "video", track: MediaStreamTrack | null): Promise<void> {
    for (const { link } of this.#records.values()) await link.replaceTrack(kind, track);
  }

  /** Starts or stops sending a screen on every link. */
  shareScreen(stream: MediaStream | null): void {
    for (const { link } of this.#records.values()) link.shareScreen(stream);
  }

  /** Our view of every link, for the server. */
  states(): Record<PeerId, LinkState> {
    return Object.fromEntries([...this.#records].map(([peer, r]) => [peer, r.link.state]));
  }

  /** Refreshes quality and audio level of every link from `getStats`. */
  async measure(): Promise<void> {
    let changed = false;
    for (const record of [...this.#records.values()]) {
      if (record.link.connectionState === "closed") continue;
      const { quality, sample, audioLevel } = linkQuality(await record.link.stats(), record.sample);
      Object.assign(record, { quality, sample, audioLevel });
      changed = true;
    }
    if (changed) this.#o.onChange();
  }

  /** Raw per-link counters, for diagnostics and end-to-end tests. */
  async stats(): Promise<Record<PeerId, LinkStats>> {
    const out: Record<PeerId, LinkStats> = {};
    for (const [peer, { link }] of this.#records) {
      const report = await link.stats();
      const inbound = (kind: string) =>
        report.filter((r) => r.type === "inbound-rtp" && r.kind === kind);
      const sum = (rows: Record<string, unknown>[], key: string) =>
        rows.reduce((n, r) => n + (Number(r[key]) || 0), 0);
      const pair = report.find((r) =>
        r.type === "candidate-pair" && r.state === "succeeded" && r.nominated
      );
      const local = pair && report.find((r) => r.id === pair.localCandidateId);
      out[peer] = {
        audioPacketsReceived: sum(inbound("audio"), "packetsReceived"),
        videoFramesDecoded: sum(inbound("video"), "framesDecoded"),
        connectionState: link.connectionState,
        localCandidateType: (local?.candidateType as string | undefined) ?? null,
        channelOpen: link.channelOpen,
      };
    }
    return out;
  }

  /**
   * Signaling to `peer` works again after it did not (either side was away from the server):
   * its link redoes whatever may have been lost meanwhile (`PeerLink.resync`).
   */
  resync(peer: PeerId): void {
    this.#records.get(peer)?.link.resync().catch((err) =>
      console.warn(`Resyncing the link to ${peer} failed:`, err)
    );
  }

  /** Whether any link is connected: the meeting goes on through it without the server. */
  anyConnected(): boolean {
    return [...this.#records.values()].some((r) => r.link.state === "connected");
  }

  drop(peer: PeerId): void {
    this.#records.get(peer)?.link.close();
    this.#records.delete(peer);
  }

  closeAll(): void {
    for (const peer of [...this.#records.keys()]) this.drop(peer);
  }

  #add(peer: PeerId): LinkRecord {
    const o = this.#o;
    const streams = new Map<string, MediaStream>();
    const media = o.media;
    const link = new PeerLink({
      self: o.self,
      remote: peer,
      rtc: o.rtc,
      local: { stream: media.stream, audio: media.audio.peek(), video: media.video.peek() },
      channels: o.channels,
      send: (payload) => o.signal(peer, payload),
      onState: (state) => o.onState(peer, state),
      onStream: (stream) => {
        streams.set(stream.id, stream);
        // A track that stops arriving (screen share ended) leaves its stream.
        stream.onremovetrack = () => o.onChange();
        o.onChange();
      },
      onMessage: (data) => o.onMessage(peer, data),
      onChannelOpen: () => o.onOpen(peer),
      onChannel: (label, channel) => o.onChannel(peer, label, channel),
      onCertificateMismatch: () => o.onCertificateMismatch?.(peer),
    });
    const screen = media.screen.peek();
    if (screen) link.shareScreen(screen);
    const record: LinkRecord = { peer, link, streams, quality: UNKNOWN_QUALITY, audioLevel: 0 };
    this.#records.set(peer, record);
    return record;
  }
}
