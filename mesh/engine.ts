/**
 * The meeting engine: joins the room through signaling, keeps one PeerLink per other member,
 * carries local media to all of them, and exposes everything the UI shows as signals.
 * No UI and no framework; islands read the signals and call the methods.
 */
import { batch, computed, signal } from "@preact/signals-core";
import { SignalingClient } from "../signaling/client.ts";
import type { MemberView } from "../signaling/protocol.ts";
import { planBandwidth } from "./bandwidth.ts";
import { ChatLog, newChatMessage } from "./chat.ts";
import type { LocalMedia } from "./media.ts";
import { parseSignalPayload, PeerLink } from "./peer.ts";
import { linkQuality, type QualitySample } from "./quality.ts";
import type {
  ChatMessage,
  LinkState,
  PeerId,
  PeerMessage,
  PeerStatus,
  RemotePeer,
} from "./types.ts";

export type MeetingPhase = "joining" | "joined" | "reconnecting" | "ended";

export interface MeetingEnd {
  kind: "left" | "room-full" | "locked" | "evicted" | "unreachable" | "error";
  message: string;
}

/** Something to tell the person briefly (a toast). */
export interface Notice {
  id: number;
  kind: "join" | "leave" | "error" | "info";
  text: string;
}

export interface LinkStats {
  audioPacketsReceived: number;
  videoFramesDecoded: number;
  connectionState: RTCPeerConnectionState;
  localCandidateType: string | null;
  /** Whether the data channel (chat, status) is open. */
  channelOpen: boolean;
}

export interface MeetingOptions {
  signalingUrl: string;
  name: string;
  media: LocalMedia;
  rtc: RTCConfiguration;
  /** For tests: a WebSocket constructor. */
  WebSocket?: typeof WebSocket;
}

const STATS_INTERVAL_MS = 2_000;
const BANDWIDTH_INTERVAL_MS = 5_000;
const UNKNOWN_QUALITY = {
  rttMs: null,
  loss: null,
  outgoingBitrate: null,
  level: "unknown",
} as const;

interface Remote {
  link: PeerLink;
  streams: Map<string, MediaStream>;
  sample?: QualitySample;
}

export class Meeting {
  readonly phase = signal<MeetingPhase>("joining");
  readonly end = signal<MeetingEnd | null>(null);
  readonly self = signal<PeerId | null>(null);
  readonly status = signal<PeerStatus>({
    name: "",
    audioMuted: false,
    videoOff: false,
    handRaised: false,
    cameraStream: null,
    screenStream: null,
  });
  readonly members = signal<MemberView[]>([]);
  /** Room capacity, from the server. */
  readonly capacity = signal<number | null>(null);
  readonly peers = signal<RemotePeer[]>([]);
  readonly chat = signal<ChatMessage[]>([]);
  readonly notices = signal<Notice[]>([]);
  /** The local screen share, while sharing. */
  readonly screen = signal<MediaStream | null>(null);
  /** Every link connected: the mesh is complete from our side. */
  readonly meshComplete = computed(() => this.peers.value.every((p) => p.link === "connected"));

  readonly media: LocalMedia;
  readonly #o: MeetingOptions;
  readonly #client: SignalingClient;
  readonly #remotes = new Map<PeerId, Remote>();
  readonly #peerState = new Map<PeerId, Omit<RemotePeer, "peer">>();
  readonly #log = new ChatLog();
  #chatSeq = 0;
  #historyAsked = false;
  #noticeSeq = 0;
  #reportTimer: ReturnType<typeof setTimeout> | undefined;
  #timers: ReturnType<typeof setInterval>[] = [];
  #applyingBandwidth = false;

  constructor(opts: MeetingOptions) {
    this.#o = opts;
    this.media = opts.media;
    this.status.value = {
      ...this.status.value,
      name: opts.name,
      audioMuted: !opts.media.audio?.enabled,
      videoOff: !opts.media.video,
      cameraStream: opts.media.stream.id,
    };
    this.#client = new SignalingClient({
      url: opts.signalingUrl,
      name: opts.name,
      WebSocket: opts.WebSocket,
    });
    this.#client.on("welcome", (w) => {
      this.self.value = w.peer;
      this.capacity.value = w.room.capacity;
      this.phase.value = "joined";
      this.#onRoster(w.members);
    });
    this.#client.on("roster", (r) => this.#onRoster(r.members));
    this.#client.on("signal", ({ from, payload }) => this.#onSignal(from, payload));
    this.#client.on("state", (s) => {
      if (s === "reconnecting") this.phase.value = "reconnecting";
      if (s === "joined") this.phase.value = "joined";
      if (s === "closed") this.#ended();
    });
    this.#client.on("error", (e) => this.notify("error", e.message));
    this.#timers.push(setInterval(() => void this.#pollStats(), STATS_INTERVAL_MS));
    this.#timers.push(setInterval(() => void this.#applyBandwidth(), BANDWIDTH_INTERVAL_MS));
  }

  // ---- Actions ----

  setMicMuted(muted: boolean): void {
    const track = this.media.audio;
    if (track) track.enabled = !muted;
    this.#updateStatus({ audioMuted: muted || !track });
  }

  /** Camera off stops the device (its light goes out); on opens it again. No renegotiation. */
  async setCameraOff(off: boolean): Promise<void> {
    const track = await this.media.setTrack("video", !off);
    for (const { link } of this.#remotes.values()) await link.replaceTrack("video", track);
    this.#updateStatus({ videoOff: !track });
    if (!off && !track) {
      this.notify("error", this.media.notices.at(-1)?.message ?? "Camera failed.");
    }
  }

  async useDevice(kind: "audio" | "video", deviceId: string): Promise<void> {
    const track = await this.media.useDevice(kind, deviceId);
    if (!track) {
      this.notify("error", this.media.notices.at(-1)?.message ?? "That device failed.");
      return;
    }
    for (const { link } of this.#remotes.values()) await link.replaceTrack(kind, track);
    if (kind === "video") this.#updateStatus({ videoOff: false });
    else this.#updateStatus({ audioMuted: !track.enabled });
  }

  async startScreenShare(): Promise<boolean> {
    if (this.screen.value) return true;
    const stream = await this.media.shareScreen();
    if (!stream) {
      const notice = this.media.notices.at(-1);
      if (notice) this.notify("error", notice.message);
      return false;
    }
    const video = stream.getVideoTracks()[0];
    // Text on a screen needs sharpness more than motion: tell the encoder.
    if (video) video.contentHint = "detail";
    // The browser's own "Stop sharing" button ends the track.
    video?.addEventListener("ended", () => this.stopScreenShare());
    this.screen.value = stream;
    for (const { link } of this.#remotes.values()) link.shareScreen(stream);
    this.#updateStatus({ screenStream: stream.id });
    void this.#applyBandwidth();
    return true;
  }

  stopScreenShare(): void {
    const stream = this.screen.value;
    if (!stream) return;
    stream.getTracks().forEach((t) => t.stop());
    this.screen.value = null;
    for (const { link } of this.#remotes.values()) link.shareScreen(null);
    this.#updateStatus({ screenStream: null });
  }

  raiseHand(raised: boolean): void {
    this.#updateStatus({ handRaised: raised });
  }

  /** Sends a chat message to everyone; false when it is empty or too long. */
  sendChat(text: string): boolean {
    const self = this.self.value;
    if (!self) return false;
    const message = newChatMessage(self, this.#o.name, this.#chatSeq++, text, Date.now());
    if (!message) return false;
    this.#log.add(message);
    this.chat.value = this.#log.list();
    this.#broadcast({ t: "chat", message });
    return true;
  }

  /** Raw per-link counters, for diagnostics and end-to-end tests (`__mooz.meeting.stats()`). */
  async stats(): Promise<Record<PeerId, LinkStats>> {
    const out: Record<PeerId, LinkStats> = {};
    for (const [peer, { link }] of this.#remotes) {
      const report = [...(await link.pc.getStats()).values()] as Record<string, unknown>[];
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
        connectionState: link.pc.connectionState,
        localCandidateType: (local?.candidateType as string | undefined) ?? null,
        channelOpen: link.channelOpen,
      };
    }
    return out;
  }

  dismissNotice(id: number): void {
    this.notices.value = this.notices.value.filter((n) => n.id !== id);
  }

  leave(): void {
    this.#client.leave();
  }

  /** Releases everything (after `end`, or when the page goes away). */
  dispose(): void {
    this.#timers.forEach(clearInterval);
    clearTimeout(this.#reportTimer);
    for (const peer of [...this.#remotes.keys()]) this.#dropPeer(peer);
    this.stopScreenShare();
    this.media.stop();
    if (this.#client.state !== "closed") this.#client.close();
  }

  // ---- Signaling ----

  #ended(): void {
    if (this.end.value) return;
    const reason = this.#client.closeReason;
    const kind: MeetingEnd["kind"] = ({
      left: "left",
      "room-full": "room-full",
      "room-locked": "locked",
      evicted: "evicted",
      unreachable: "unreachable",
      expired: "unreachable",
    } as Record<string, MeetingEnd["kind"]>)[this.#client.closeKind] ?? "error";
    batch(() => {
      this.end.value = { kind, message: reason };
      this.phase.value = "ended";
    });
    this.dispose();
  }

  #onRoster(members: MemberView[]): void {
    const self = this.self.value;
    if (!self) return;
    const previous = new Map(this.members.value.map((m) => [m.peer, m]));
    this.members.value = members;
    const present = new Set<PeerId>();
    for (const m of members) {
      if (m.peer === self) continue;
      present.add(m.peer);
      if (!this.#remotes.has(m.peer)) this.#addPeer(m.peer);
      if (previous.size && !previous.has(m.peer)) this.notify("join", `${m.name} joined`);
    }
    for (const [peer, m] of previous) {
      if (peer !== self && !present.has(peer)) {
        this.#dropPeer(peer);
        this.notify("leave", `${m.name} left`);
      }
    }
    this.#publishPeers();
    this.#scheduleLinkReport();
    void this.#applyBandwidth();
  }

  #onSignal(from: PeerId, raw: unknown): void {
    const payload = parseSignalPayload(raw);
    if (!payload || from === this.self.value) return;
    // A newcomer's offer can arrive before the roster that announces it. The server relays only
    // between members of one room, so the sender is a member: set up its link right away.
    const remote = this.#remotes.get(from) ?? this.#addPeer(from);
    remote.link.receive(payload).catch((err) => console.warn(`Signal from ${from} failed:`, err));
  }

  // ---- Peers ----

  #addPeer(peer: PeerId): Remote {
    const self = this.self.value!;
    const streams = new Map<string, MediaStream>();
    const link = new PeerLink({
      self,
      remote: peer,
      rtc: this.#o.rtc,
      local: { stream: this.media.stream, audio: this.media.audio, video: this.media.video },
      send: (payload) => this.#client.signal(peer, payload),
      onState: () => {
        this.#publishPeers();
        this.#scheduleLinkReport();
      },
      onStream: (stream) => {
        streams.set(stream.id, stream);
        // A track that stops arriving (screen share ended) leaves its stream.
        stream.onremovetrack = () => this.#publishPeers();
        this.#publishPeers();
      },
      onMessage: (m) => this.#onPeerMessage(peer, m),
      onChannelOpen: () => {
        link.sendMessage({ t: "state", status: this.status.value });
        if (!this.#historyAsked && this.#log.list().length === 0) {
          this.#historyAsked = true;
          link.sendMessage({ t: "history-request" });
        }
      },
    });
    if (this.screen.value) link.shareScreen(this.screen.value);
    const remote: Remote = { link, streams };
    this.#remotes.set(peer, remote);
    this.#peerState.set(peer, {
      link: "connecting",
      online: true,
      status: {
        name: "",
        audioMuted: false,
        videoOff: false,
        handRaised: false,
        cameraStream: null,
        screenStream: null,
      },
      camera: null,
      screen: null,
      quality: UNKNOWN_QUALITY,
      audioLevel: 0,
    });
    return remote;
  }

  #dropPeer(peer: PeerId): void {
    this.#remotes.get(peer)?.link.close();
    this.#remotes.delete(peer);
    this.#peerState.delete(peer);
  }

  #onPeerMessage(peer: PeerId, m: PeerMessage): void {
    const state = this.#peerState.get(peer);
    switch (m.t) {
      case "state":
        if (state) state.status = m.status;
        this.#publishPeers();
        return;
      case "chat":
        // The sender id must be the link's peer: nobody speaks for someone else.
        if (m.message.from !== peer) return;
        if (this.#log.add(m.message)) this.chat.value = this.#log.list();
        return;
      case "history-request":
        this.#remotes.get(peer)?.link.sendMessage({ t: "history", messages: this.#log.list() });
        return;
      case "history":
        if (this.#log.merge(m.messages) > 0) this.chat.value = this.#log.list();
        return;
    }
  }

  #broadcast(message: PeerMessage): void {
    for (const { link } of this.#remotes.values()) link.sendMessage(message);
  }

  #updateStatus(change: Partial<PeerStatus>): void {
    this.status.value = { ...this.status.value, ...change };
    this.#broadcast({ t: "state", status: this.status.value });
  }

  /** Rebuilds the `peers` signal from links, streams and statuses, in roster order. */
  #publishPeers(): void {
    const online = new Map(this.members.value.map((m) => [m.peer, m.connected]));
    const list: RemotePeer[] = [];
    for (const m of this.members.value) {
      const remote = this.#remotes.get(m.peer);
      const state = this.#peerState.get(m.peer);
      if (!remote || !state) continue;
      // A stopped share leaves an ended track behind; only live tracks count.
      const live = [...remote.streams.values()].filter((s) =>
        s.getTracks().some((t) => t.readyState === "live")
      );
      const screenId = state.status.screenStream;
      const screen = screenId ? live.find((s) => s.id === screenId) ?? null : null;
      const camera = live.find((s) => s.id === state.status.cameraStream) ??
        live.find((s) => s.id !== screenId) ?? null;
      Object.assign(state, {
        link: remote.link.state,
        online: online.get(m.peer) ?? false,
        camera,
        screen,
      });
      list.push({ peer: m.peer, ...state, status: { ...state.status, name: m.name } });
    }
    this.peers.value = list;
  }

  /** Tells the server our view of every link, at most every 100 ms. */
  #scheduleLinkReport(): void {
    if (this.#reportTimer) return;
    this.#reportTimer = setTimeout(() => {
      this.#reportTimer = undefined;
      const links: Record<PeerId, LinkState> = {};
      for (const m of this.members.value) {
        if (m.peer === this.self.value) continue;
        links[m.peer] = this.#remotes.get(m.peer)?.link.state ?? "connecting";
      }
      this.#client.reportLinks(links);
    }, 100);
  }

  async #pollStats(): Promise<void> {
    let changed = false;
    for (const [peer, remote] of this.#remotes) {
      const state = this.#peerState.get(peer);
      if (!state || remote.link.pc.connectionState === "closed") continue;
      const report = await remote.link.pc.getStats();
      const { quality, sample, audioLevel } = linkQuality(
        report.values() as Iterable<Record<string, unknown>>,
        remote.sample,
      );
      remote.sample = sample;
      state.quality = quality;
      state.audioLevel = audioLevel;
      changed = true;
    }
    if (changed) this.#publishPeers();
  }

  /** Sets every video sender's bitrate and resolution from the room size and measured uplink. */
  async #applyBandwidth(): Promise<void> {
    // One at a time: interleaved getParameters/setParameters on a sender are refused.
    if (this.#applyingBandwidth) return;
    this.#applyingBandwidth = true;
    try {
      await this.#applyBandwidthNow();
    } finally {
      this.#applyingBandwidth = false;
    }
  }

  async #applyBandwidthNow(): Promise<void> {
    const remotes = [...this.#remotes.entries()];
    if (remotes.length === 0) return;
    const plan = planBandwidth({
      peers: remotes.length,
      estimates: remotes.map(([peer]) =>
        this.#peerState.get(peer)?.quality.outgoingBitrate ?? null
      ),
      sharing: this.screen.value !== null,
    });
    for (const [, { link }] of remotes) {
      if (link.pc.signalingState !== "stable") continue; // mid-negotiation: next round
      await setEncoding(link.cameraSender, plan.camera);
      if (plan.screen) await setEncoding(link.screenSender, plan.screen);
    }
  }

  /** Shows a toast; errors stay longer. */
  notify(kind: Notice["kind"], text: string): void {
    const notice = { id: ++this.#noticeSeq, kind, text };
    this.notices.value = [...this.notices.value.slice(-4), notice];
    setTimeout(() => this.dismissNotice(notice.id), kind === "error" ? 8_000 : 4_000);
  }
}

async function setEncoding(
  sender: RTCRtpSender | null,
  e: { maxBitrate: number; scaleResolutionDownBy: number; maxFramerate: number },
): Promise<void> {
  if (!sender?.track) return;
  const params = sender.getParameters();
  if (!params.encodings?.length) return; // before negotiation: applied on the next round
  const enc = params.encodings[0];
  if (
    enc.maxBitrate === e.maxBitrate && enc.scaleResolutionDownBy === e.scaleResolutionDownBy &&
    enc.maxFramerate === e.maxFramerate
  ) return;
  Object.assign(enc, e);
  try {
    await sender.setParameters(params);
  } catch (err) {
    console.warn("Setting video encoding failed:", err);
  }
}
