/**
 * One WebRTC link to one other participant, negotiated with the "perfect negotiation" pattern
 * (https://w3c.github.io/webrtc-pc/#perfect-negotiation-example): either side may offer at any
 * time; on a collision the polite side yields. Roles come from the peer ids, so both sides agree
 * without talking: the greater id is impolite.
 *
 * Media layout, chosen so that turning the camera or microphone on and off never renegotiates:
 * the impolite side opens one audio and one video transceiver (sendrecv) for the cameras, and the
 * polite side attaches its own tracks to those two when the first offer arrives. A screen share
 * adds its own transceivers. Feature messages go over a pre-negotiated data channel (id 0), which
 * costs no extra signaling; features that move bulk data get channels of their own (opened by the
 * impolite side, announced in-band), so a transfer never queues behind or ahead of chat.
 *
 * The `RTCPeerConnection` stays private: the meeting core sees states, streams, raw channel
 * messages and a few numbers, never the connection itself.
 */
import { fingerprintFromSdp, fingerprintOfCertificate } from "./safety_code.ts";
import type { LinkState, PeerId } from "./types.ts";

/** What travels through the signaling server between two links; opaque to the server. */
export type SignalPayload =
  | { description: RTCSessionDescriptionInit }
  | { candidate: RTCIceCandidateInit };

/** Delays before each ICE restart attempt after the link failed; then it stays failed. */
const RESTART_DELAYS_MS = [0, 1_000, 2_000, 4_000, 8_000];
/** A `disconnected` link often recovers by itself; restart ICE only if it lasts this long. */
const DISCONNECTED_GRACE_MS = 3_000;
/**
 * An offer unanswered this long was lost, or its answer was (a signal dropped while either side
 * was reconnecting): it is taken back and made again. A live answer takes well under a second.
 */
const OFFER_TIMEOUT_MS = 10_000;
const MAX_SDP = 32 * 1024;

export interface LocalTracks {
  stream: MediaStream;
  audio: MediaStreamTrack | null;
  video: MediaStreamTrack | null;
}

export interface PeerLinkOptions {
  self: PeerId;
  remote: PeerId;
  rtc: RTCConfiguration;
  local: LocalTracks;
  send(payload: SignalPayload): void;
  onState(state: LinkState): void;
  /** A remote stream started or changed (camera or screen; the caller tells them apart). */
  onStream(stream: MediaStream): void;
  /** A message on the core channel, unparsed and untrusted. */
  onMessage(data: unknown): void;
  onChannelOpen(): void;
  /** Labels of the extra data channels features use; others the remote side opens are refused. */
  channels?: readonly string[];
  /** An extra data channel was created (impolite side) or announced by the other side (polite). */
  onChannel?(label: string, channel: RTCDataChannel): void;
  /**
   * The certificate the other side presented is not the one its sealed description named: the
   * link is closed (`verifyCertificate`).
   */
  onCertificateMismatch?(): void;
}

/** Validates a payload from the other browser (relayed, unchecked, by the server). */
export function parseSignalPayload(value: unknown): SignalPayload | null {
  if (typeof value !== "object" || value === null) return null;
  const v = value as Record<string, unknown>;
  const d = v.description as Record<string, unknown> | undefined;
  if (d && typeof d === "object") {
    if (!["offer", "answer", "pranswer", "rollback"].includes(d.type as string)) return null;
    if (d.sdp !== undefined && (typeof d.sdp !== "string" || d.sdp.length > MAX_SDP)) return null;
    return { description: { type: d.type as RTCSdpType, sdp: d.sdp as string | undefined } };
  }
  const c = v.candidate as Record<string, unknown> | undefined;
  if (c && typeof c === "object" && typeof c.candidate === "string" && c.candidate.length < 2048) {
    return {
      candidate: {
        candidate: c.candidate,
        sdpMid: typeof c.sdpMid === "string" ? c.sdpMid : null,
        sdpMLineIndex: typeof c.sdpMLineIndex === "number" ? c.sdpMLineIndex : null,
        usernameFragment: typeof c.usernameFragment === "string" ? c.usernameFragment : null,
      },
    };
  }
  return null;
}

/** One link to one other participant; see the module comment. */
export class PeerLink {
  readonly polite: boolean;
  state: LinkState = "connecting";
  readonly #o: PeerLinkOptions;
  #channel: RTCDataChannel | null = null;
  #makingOffer = false;
  #offerSkipped = false;
  #settingRemoteAnswer = false;
  /** The payload being applied; the next one waits for it. */
  #inbox: Promise<void> = Promise.resolve();
  #ignoreOffer = false;
  /** Candidates that arrived before the remote description they belong to. */
  #pendingCandidates: RTCIceCandidateInit[] = [];
  #camera: { audio: RTCRtpTransceiver; video: RTCRtpTransceiver } | null = null;
  #screen: RTCRtpTransceiver[] = [];
  #restarts = 0;
  #restartTimer: ReturnType<typeof setTimeout> | undefined;
  #offerTimer: ReturnType<typeof setTimeout> | undefined;
  #closed = false;
  readonly #pc: RTCPeerConnection;

  constructor(opts: PeerLinkOptions) {
    this.#o = opts;
    this.polite = opts.self < opts.remote;
    const pc = this.#pc = new RTCPeerConnection(opts.rtc);

    pc.onnegotiationneeded = () => void this.#offer();
    pc.onicecandidate = ({ candidate }) => {
      if (candidate) opts.send({ candidate: candidate.toJSON() });
    };
    pc.ontrack = (e) => {
      for (const stream of e.streams) opts.onStream(stream);
    };
    pc.onconnectionstatechange = () => this.#onConnectionState();
    pc.onsignalingstatechange = () => this.#watchOffer();
    pc.ondatachannel = ({ channel }) => {
      // In-band channels come only from the impolite side, and only with labels we know.
      if (this.polite && opts.channels?.includes(channel.label)) {
        opts.onChannel?.(channel.label, channel);
      } else channel.close();
    };

    if (!this.polite) {
      this.#openChannel();
      for (const label of opts.channels ?? []) {
        opts.onChannel?.(label, pc.createDataChannel(label, { ordered: true }));
      }
      const { audio, video, stream } = opts.local;
      this.#camera = {
        audio: pc.addTransceiver(audio ?? "audio", { direction: "sendrecv", streams: [stream] }),
        video: pc.addTransceiver(video ?? "video", { direction: "sendrecv", streams: [stream] }),
      };
    }
  }

  /** The connection's state (`closed` once closed). */
  get connectionState(): RTCPeerConnectionState {
    return this.#pc.connectionState;
  }

  /**
   * The DTLS fingerprints (sha-256, as SDP writes them) of our certificate and of the one the
   * other side's description names, once both descriptions are set; for the safety code.
   */
  fingerprints(): { local: string; remote: string } | null {
    const local = fingerprintFromSdp(this.#pc.currentLocalDescription?.sdp ?? "");
    const remote = fingerprintFromSdp(this.#pc.currentRemoteDescription?.sdp ?? "");
    return local && remote ? { local, remote } : null;
  }

  /**
   * Checks the certificate the other side actually presented (`getRemoteCertificates`, where the
   * browser has it) against the fingerprint in its description, which arrived sealed. The
   * browser's DTLS already refuses a certificate that does not match the remote description; this
   * check makes that visible and guards against a browser that would not. True when it matches,
   * null when the browser cannot tell; on a mismatch the link closes.
   */
  async verifyCertificate(): Promise<boolean | null> {
    const pc = this.#pc;
    const transport = pc.sctp?.transport ??
      pc.getTransceivers().find((t) => t.sender.transport)?.sender.transport;
    const expected = fingerprintFromSdp(pc.currentRemoteDescription?.sdp ?? "");
    if (!transport || !expected || typeof transport.getRemoteCertificates !== "function") {
      return null;
    }
    const [certificate] = transport.getRemoteCertificates();
    if (!certificate) return null;
    if (await fingerprintOfCertificate(certificate) === expected) return true;
    if (this.#closed) return false;
    this.close();
    this.#setState("failed");
    this.#o.onCertificateMismatch?.();
    return false;
  }

  /** Whether an offer/answer exchange is under way (then encoder parameters must wait). */
  get negotiating(): boolean {
    return this.#pc.signalingState !== "stable";
  }

  /** Media sections on the connection, for tests that count renegotiation side effects. */
  get transceiverCount(): number {
    return this.#pc.getTransceivers().length;
  }

  /** Largest message the other side accepts on a data channel (Chromium: 256 KiB). */
  get maxMessageSize(): number {
    return this.#pc.sctp?.maxMessageSize || 65_536;
  }

  /** `getStats()` of the connection, as plain records. */
  async stats(): Promise<Record<string, unknown>[]> {
    return [...(await this.#pc.getStats()).values()];
  }

  /**
   * The chat and status channel. Only the impolite side creates it up front: were both to, the
   * polite side's own first offer would collide and be rolled back, and Chromium then rejects the
   * data section in its answer (`m=application 0`) and both sides renegotiate forever. The polite
   * side creates it once the first offer (which carries the data section) is applied.
   */
  #openChannel(): void {
    const channel = this.#pc.createDataChannel("mooz", { negotiated: true, id: 0 });
    channel.onopen = () => this.#o.onChannelOpen();
    channel.onmessage = (e) => this.#o.onMessage(e.data);
    this.#channel = channel;
  }

  get channelOpen(): boolean {
    return this.#channel?.readyState === "open";
  }

  /**
   * Sends an encoded message on the core channel; false when it is not open (yet). The caller
   * keeps it within `maxMessageSize`.
   */
  send(text: string): boolean {
    if (this.#channel?.readyState !== "open") return false;
    this.#channel.send(text);
    return true;
  }

  /**
   * Handles a payload from the other side. Payloads are applied one after another: an offer that
   * arrives while the answer before it is still being applied must not be taken for a collision.
   */
  receive(payload: SignalPayload): Promise<void> {
    const run = this.#inbox.then(() => this.#receive(payload));
    this.#inbox = run.catch(() => {});
    return run;
  }

  async #receive(payload: SignalPayload): Promise<void> {
    if (this.#closed) return;
    const pc = this.#pc;
    if ("description" in payload) {
      const description = payload.description;
      // As in the specification's example: an answer being applied counts as stable.
      const readyForOffer = !this.#makingOffer &&
        (pc.signalingState === "stable" || this.#settingRemoteAnswer);
      this.#ignoreOffer = !this.polite && description.type === "offer" && !readyForOffer;
      if (this.#ignoreOffer) return;
      this.#settingRemoteAnswer = description.type === "answer";
      try {
        await pc.setRemoteDescription(description);
      } finally {
        this.#settingRemoteAnswer = false;
      }
      for (const c of this.#pendingCandidates.splice(0)) await this.#addCandidate(c);
      if (description.type === "offer") {
        if (this.polite && !this.#channel) this.#openChannel();
        if (this.polite && !this.#camera) await this.#adoptCameraTransceivers();
        await pc.setLocalDescription();
        this.#o.send({ description: pc.localDescription!.toJSON() });
        if (this.#offerSkipped) {
          this.#offerSkipped = false;
          void this.#offer();
        }
      }
    } else if (!pc.remoteDescription) {
      this.#pendingCandidates.push(payload.candidate);
    } else {
      await this.#addCandidate(payload.candidate);
    }
  }

  async #addCandidate(candidate: RTCIceCandidateInit): Promise<void> {
    try {
      await this.#pc.addIceCandidate(candidate);
    } catch (err) {
      // Candidates of an offer we ignored (we are impolite and won the collision) are expected
      // to fail; anything else is worth knowing.
      if (!this.#ignoreOffer) console.warn("Dropped an ICE candidate:", err);
    }
  }

  /** The polite side sends its camera on the transceivers the impolite side opened. */
  async #adoptCameraTransceivers(): Promise<void> {
    const find = (kind: string) =>
      this.#pc.getTransceivers().find((t) => t.receiver.track.kind === kind && t.mid !== null);
    const audio = find("audio"), video = find("video");
    if (!audio || !video) return;
    this.#camera = { audio, video };
    const { stream } = this.#o.local;
    for (
      const [t, track] of [[audio, this.#o.local.audio], [video, this.#o.local.video]] as const
    ) {
      t.direction = "sendrecv";
      t.sender.setStreams(stream);
      await t.sender.replaceTrack(track);
    }
  }

  async #offer(): Promise<void> {
    // One offer at a time: one being made already carries everything there is to negotiate.
    if (this.#closed || this.#makingOffer) return;
    // The polite side never opens the negotiation: its first offer would only collide with the
    // impolite side's. Whatever it added meanwhile (a screen share) is offered after its first
    // answer; Chromium does not fire negotiationneeded again for it.
    if (this.polite && !this.#pc.remoteDescription) {
      this.#offerSkipped = true;
      return;
    }
    try {
      this.#makingOffer = true;
      await this.#pc.setLocalDescription();
      this.#o.send({ description: this.#pc.localDescription!.toJSON() });
    } catch (err) {
      console.warn("Creating an offer failed:", err);
    } finally {
      this.#makingOffer = false;
    }
  }

  /**
   * Signaling to the other side works again after it did not (the server was away, or either
   * side was reconnecting): whatever this link sent or was sent meanwhile is lost. An offer still
   * waiting for its answer is taken back and made again (the offer or its answer went missing),
   * and a link that is not connected gets a fresh round of ICE restarts. A connected link with
   * nothing pending needs nothing. Runs in turn with incoming payloads.
   */
  resync(): Promise<void> {
    const run = this.#inbox.then(() => this.#resync());
    this.#inbox = run.catch(() => {});
    return run;
  }

  async #resync(): Promise<void> {
    if (this.#closed) return;
    const pc = this.#pc;
    const pendingOffer = pc.signalingState === "have-local-offer";
    if (pendingOffer) await pc.setLocalDescription({ type: "rollback" });
    if (pc.connectionState !== "connected") {
      clearTimeout(this.#restartTimer);
      this.#restarts = 0;
      // Renegotiates (negotiationneeded), with new ICE credentials and candidates.
      this.#restartIce();
    } else if (pendingOffer) {
      await this.#offer();
    }
  }

  /** Arms the lost-offer timer while an offer of ours waits for its answer. */
  #watchOffer(): void {
    clearTimeout(this.#offerTimer);
    if (this.#closed || this.#pc.signalingState !== "have-local-offer") return;
    this.#offerTimer = setTimeout(() => {
      const run = this.#inbox.then(() => this.#redoOffer());
      this.#inbox = run.catch((err) => console.warn("Redoing an unanswered offer failed:", err));
    }, OFFER_TIMEOUT_MS);
  }

  /** Takes back an offer that got no answer and makes it again (see OFFER_TIMEOUT_MS). */
  async #redoOffer(): Promise<void> {
    const pc = this.#pc;
    if (this.#closed || pc.signalingState !== "have-local-offer") return;
    await pc.setLocalDescription({ type: "rollback" });
    // A lost ICE restart offer is still needed if the link is down: the new offer restarts too.
    if (pc.connectionState !== "connected") pc.restartIce();
    await this.#offer();
  }

  /** Puts a new camera or microphone track (or null: off) on the link, without renegotiating. */
  async replaceTrack(kind: "audio" | "video", track: MediaStreamTrack | null): Promise<void> {
    const transceiver = this.#camera?.[kind];
    if (transceiver) await transceiver.sender.replaceTrack(track);
  }

  /** The camera's video sender, for the bandwidth policy. */
  get cameraSender(): RTCRtpSender | null {
    return this.#camera?.video.sender ?? null;
  }

  get screenSender(): RTCRtpSender | null {
    return this.#screen.find((t) => t.sender.track?.kind === "video")?.sender ?? null;
  }

  /**
   * Starts or (with null) stops sending a screen share; each renegotiates once. A share gets new
   * transceivers and the ended one is stopped (its m-line is recycled): reusing a transceiver for
   * a later share would make Chromium deliver the new track in the old remote stream, so the
   * other side could not tell the new share by its stream id.
   */
  shareScreen(stream: MediaStream | null): void {
    for (const t of this.#screen) t.stop();
    this.#screen = stream
      ? stream.getTracks().map((track) =>
        this.#pc.addTransceiver(track, { direction: "sendonly", streams: [stream] })
      )
      : [];
  }

  #setState(state: LinkState): void {
    if (this.state === state) return;
    this.state = state;
    this.#o.onState(state);
  }

  #onConnectionState(): void {
    if (this.#closed) return;
    clearTimeout(this.#restartTimer);
    switch (this.#pc.connectionState) {
      case "connected":
        this.#restarts = 0;
        this.#setState("connected");
        void this.verifyCertificate().catch((err) =>
          console.warn("Checking the other side's certificate failed:", err)
        );
        return;
      case "disconnected":
        this.#setState("connecting");
        this.#restartTimer = setTimeout(() => this.#restartIce(), DISCONNECTED_GRACE_MS);
        return;
      case "failed":
        this.#restartIce();
        return;
      default:
        if (this.state !== "failed") this.#setState("connecting");
    }
  }

  /** ICE restart with backoff; after the last attempt the link is reported failed. */
  #restartIce(): void {
    if (this.#closed) return;
    if (this.#restarts >= RESTART_DELAYS_MS.length) {
      this.#setState("failed");
      return;
    }
    this.#setState(this.#pc.connectionState === "failed" ? "failed" : "connecting");
    const delay = RESTART_DELAYS_MS[this.#restarts++];
    this.#restartTimer = setTimeout(() => {
      if (!this.#closed && this.#pc.connectionState !== "connected") this.#pc.restartIce();
    }, delay);
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#restartTimer);
    clearTimeout(this.#offerTimer);
    this.#channel?.close();
    this.#pc.close();
  }
}
