/**
 * The meeting once joined: the signaling session, the links and the features, kept in step with
 * each other and with the local media. `MeetingCore` loads this module while the person is still
 * on the pre-join screen and creates one `LiveMeeting` when they join.
 *
 * The meeting does not need its server once the links are up: while the session reconnects,
 * links, media, chat and every feature go on, and only what needs the server waits (newcomers,
 * ICE restarts, renegotiation; the links redo what was lost once the server is back). The
 * meeting ends only when the person leaves, the server ends the session (refusal, eviction), or
 * the mesh itself is gone: the server unreachable and no link connected for the grace period.
 *
 * Host decisions reach the meeting here too: a host's mute request is obeyed at once (the
 * person may turn it back on), and removals are announced by name ("Carol was removed by Ada")
 * instead of "Carol left", as are the server's other reasons ("Carol lost their connection").
 */
import { computed, effect, type ReadonlySignal, signal, untracked } from "@preact/signals-core";
import { socketUrl } from "../signaling/client.ts";
import type { JsonValue, MemberView, MutedMessage, RemovalView } from "../signaling/protocol.ts";
import { EncoderSettings } from "./encoder_settings.ts";
import type { FeatureDefinition, RoomControls } from "./feature.ts";
import { type DropReason, FeatureHost } from "./feature_host.ts";
import { Links, UNKNOWN_QUALITY } from "./links.ts";
import { safetyCode, type SafetyEmoji } from "./safety_code.ts";
import type { LocalMedia } from "./local_media.ts";
import { type Presence, presenceFeature, type PresenceState } from "./presence.ts";
import { listNames, Session } from "./session.ts";
import type { LinkStats, MeetingEnd, Notice, PeerId, PeerView, RemotePeer } from "./types.ts";

const STATS_INTERVAL_MS = 2_000;
const BANDWIDTH_INTERVAL_MS = 5_000;

/** What an unverified participant is called: its name could only have come sealed. */
const UNVERIFIED_NAME = "Unverified participant";

/** How long after a refused signal its link redoes what it needs (`#resyncSoon`). */
const RESYNC_AFTER_REFUSAL_MS = 1_000;
/** Link reports to the server are batched: at most one per this interval. */
const REPORT_DELAY_MS = 100;

/** Why the meeting ended when the server and every link were gone (see `#watchMesh`). */
function meshGone(graceMs: number): MeetingEnd {
  return {
    kind: "unreachable",
    // A no-break space: "30" and "s" on two lines read as two things.
    message: `The meeting server has been unreachable for ${Math.round(graceMs / 1000)}\u00a0s, ` +
      "and no one else in the meeting could be reached directly either.",
  };
}

/** Everything `MeetingCore` hands over when joining. */
export interface LiveMeetingOptions {
  origin: string;
  room: string;
  /** The meeting key's bytes (the link's, or a newer one): every signal is sealed with it. */
  key: Uint8Array;
  /** This browser's secret for the meeting (`browser_secret.ts`), sent in every join. */
  secret?: string;
  /** Our sealed card for people about to join (`member_card.ts`). */
  card?: JsonValue;
  /** The meeting's host controls, handed to the features as `ctx.room`. */
  roomControls?: RoomControls;
  name: string;
  rtc: RTCConfiguration;
  media: LocalMedia;
  features: readonly FeatureDefinition<unknown>[];
  notify(kind: Notice["kind"], text: string): void;
  /** Called once when the meeting ends (after `ended` reached the features). */
  onEnd(end: MeetingEnd): void;
  WebSocket?: typeof WebSocket;
}

/** One joined meeting: created by `MeetingCore.join`, closed when it ends. */
export class LiveMeeting {
  readonly session: Session;
  readonly host: FeatureHost;
  readonly presence: PresenceState;
  /** The other participants with their links, streams and presence, in join order. */
  readonly peers = signal<RemotePeer[]>([]);
  /**
   * Per peer, the safety code of our pair (`safety_code.ts`): from the meeting key and both DTLS
   * fingerprints, so the two people see the same symbols only if nobody sits between them.
   */
  readonly safetyCodes = signal<ReadonlyMap<PeerId, readonly SafetyEmoji[]>>(new Map());
  readonly #o: LiveMeetingOptions;
  #links: Links | null = null;
  /** The peer id `#links` were made for. */
  #linksSelf: PeerId | null = null;
  #encoder: EncoderSettings | null = null;
  /** Members as of the previous roster, for "joined" and "left" toasts. */
  #previous = new Map<PeerId, MemberView>();
  #reportTimer: ReturnType<typeof setTimeout> | undefined;
  /** Every peer id this page has had: a new one after our place expired, none of them "joined". */
  readonly #selves = new Set<PeerId>();
  /** Peers we could not reach through the server since their link was made: resync when we can. */
  #cutOff = new Set<PeerId>();
  /** Our peer id when the session last dropped, to tell a resume from a fresh join. */
  #selfAtDrop: PeerId | null = null;
  /** Runs out when the server and every link have been gone for the grace period. */
  #meshTimer: ReturnType<typeof setTimeout> | undefined;
  /** Members who joined after us and whose sealed name has not arrived yet (for the toast). */
  readonly #unnamedJoiners = new Set<PeerId>();
  /** Removals already announced (or there when we joined), by `removalKey`. */
  #removalsSeen: Set<string> | null = null;
  /** Links to resync after the server refused or lost a signal to them (one timer per peer). */
  readonly #resyncTimers = new Map<PeerId, ReturnType<typeof setTimeout>>();
  readonly #stop: (() => void)[] = [];

  constructor(opts: LiveMeetingOptions) {
    this.#o = opts;
    const session = this.session = new Session({
      url: socketUrl(opts.origin, opts.room),
      name: opts.name,
      room: opts.room,
      key: opts.key,
      secret: opts.secret,
      card: opts.card,
      WebSocket: opts.WebSocket,
      onMuted: (muted) => void this.#onMuted(muted),
      onSignal: (from, payload) => this.#links?.receive(from, payload),
      onError: (message) => opts.notify("error", message),
      onSignalLost: (peer) => this.#resyncSoon(peer),
      onUnverified: () => this.#onUnverified(),
    });
    // Features see only peers we can talk to: never one we could not verify.
    const peers: ReadonlySignal<PeerView[]> = computed(() =>
      this.peers.value.filter((p) => p.verified).map(({ peer, name, link, online }) => ({
        peer,
        name,
        link,
        online,
      }))
    );
    const host = this.host = new FeatureHost({
      links: {
        send: (peer, text) => this.#links?.send(peer, text) ?? false,
        openPeers: () => this.#links?.openPeers() ?? [],
        maxMessageSize: (peer) => this.#links?.maxMessageSize(peer) ?? 0,
      },
      self: session.self,
      selfName: opts.name,
      peers,
      room: opts.roomControls,
      notify: opts.notify,
    });
    this.presence = host.create(presenceFeature(opts.media));
    for (const feature of opts.features) host.create(feature);
    this.#follow();
  }

  /** Our view of the others, for the UI. */
  get local(): ReadonlySignal<Presence> {
    return this.presence.local;
  }

  get dropped(): Readonly<Record<DropReason, number>> {
    return this.host.dropped;
  }

  async stats(): Promise<Record<PeerId, LinkStats>> {
    return await this.#links?.stats() ?? {};
  }

  leave(): void {
    this.session.leave();
  }

  /** Closes links, timers and the session. */
  close(): void {
    clearTimeout(this.#reportTimer);
    clearTimeout(this.#meshTimer);
    this.#resyncTimers.forEach(clearTimeout);
    this.#stop.forEach((stop) => stop());
    this.#links?.closeAll();
    this.session.close();
  }

  /**
   * Keeps links, features and the UI in step with the session and the local media. Each effect
   * reads its signals, then acts untracked: what links and features read while handling a change
   * must not become a dependency of the effect.
   */
  #follow(): void {
    const { session, host } = this;
    const media = this.#o.media;
    const on = <T>(read: () => T, act: (value: T) => void) =>
      this.#stop.push(effect(() => {
        const value = read();
        untracked(() => act(value));
      }));
    let self: PeerId | null = null;
    on(() => [session.self.value, session.members.value] as const, ([id, members]) => {
      if (id && id !== self) this.#connect(self = id);
      this.#onRoster(members);
    });
    on(() => media.audio.value, (track) => void this.#links?.replaceTrack("audio", track));
    on(() => media.video.value, (track) => void this.#links?.replaceTrack("video", track));
    on(() => media.screen.value, (screen) => {
      this.#links?.shareScreen(screen);
      void this.#encoder?.apply(screen !== null);
    });
    on(() => ({
      micOn: media.micOn.value,
      cameraOn: media.video.value !== null,
      sharing: media.screen.value !== null,
    }), (state) => host.emit("local-media", state));
    on(() => session.state.value, (state) => this.#onSessionState(state));
    on(() => session.end.value, (end) => {
      if (!end) return;
      host.emit("ended", end);
      this.#o.onEnd(end);
    });
    on(() => this.presence.remote.value, () => this.#publish());
    on(() => session.names.value, (names) => {
      for (const peer of this.#unnamedJoiners) {
        if (!names.has(peer)) continue;
        this.#unnamedJoiners.delete(peer);
        this.#o.notify("join", `${names.get(peer)} joined`);
      }
      this.#publish();
    });
    const timers = [
      setInterval(() => void this.#links?.measure(), STATS_INTERVAL_MS),
      setInterval(
        () => void this.#encoder?.apply(media.screen.peek() !== null),
        BANDWIDTH_INTERVAL_MS,
      ),
    ];
    this.#stop.push(() => timers.forEach(clearInterval));
  }

  /**
   * Our peer id is known, or changed: our place expired while we were away and the session
   * joined afresh. The others know us by the new id only, so every link is made anew.
   */
  #connect(self: PeerId): void {
    const host = this.host;
    const old = this.#links;
    if (old) this.#o.notify("info", "Your place in the meeting had expired, so you rejoined.");
    this.#selves.add(self);
    this.#linksSelf = self;
    this.#cutOff = new Set();
    const links = this.#links = new Links({
      self,
      rtc: this.#o.rtc,
      media: this.#o.media,
      channels: host.channelLabels,
      signal: (to, payload) => this.session.signal(to, payload),
      onChange: () => this.#publish(),
      onState: (peer, state) => {
        if (state === "connected") void this.#computeSafetyCode(peer);
        this.#publish();
        this.#scheduleReport();
        this.#watchMesh();
        host.emit("link-state", { peer, state });
      },
      onOpen: (peer) => host.linkOpened(peer),
      onMessage: (peer, data) => host.receive(peer, data),
      onChannel: (peer, label, channel) => host.attachChannel(peer, label, channel),
      onCertificateMismatch: (peer) => {
        this.session.markUnverified(peer);
        this.#onUnverified();
      },
    });
    this.#encoder = new EncoderSettings(links);
    if (old) {
      const gone = [...old.values()].map((r) => r.peer);
      old.closeAll();
      // Their features' channels and rate limits belonged to the old links.
      for (const peer of gone) host.peerGone(peer);
    }
  }

  /**
   * A signal to `peer` was refused (the server is busy) or lost: resync that link a moment later,
   * once, however many of its signals (a burst of candidates) came back meanwhile, so the retry
   * does not add to the load that refused it.
   */
  #resyncSoon(peer: PeerId): void {
    if (this.#resyncTimers.has(peer)) return;
    this.#resyncTimers.set(
      peer,
      setTimeout(() => {
        this.#resyncTimers.delete(peer);
        if (this.#linksSelf === this.session.self.peek()) this.#links?.resync(peer);
      }, RESYNC_AFTER_REFUSAL_MS),
    );
  }

  /** Works out the safety code of our pair with `peer` once its link has connected. */
  async #computeSafetyCode(peer: PeerId): Promise<void> {
    const self = this.#linksSelf;
    const fingerprints = this.#links?.get(peer)?.link.fingerprints();
    if (!self || !fingerprints) return;
    try {
      const code = await safetyCode({
        // The key in use now: after a switch, links made since get codes from the new key.
        key: this.session.key,
        room: this.#o.room,
        a: { peer: self, fingerprint: fingerprints.local },
        b: { peer, fingerprint: fingerprints.remote },
      });
      if (this.#linksSelf !== self) return;
      this.safetyCodes.value = new Map([...this.safetyCodes.peek(), [peer, code]]);
      this.#publish();
    } catch (err) {
      console.warn(`No safety code for ${peer}:`, err);
    }
  }

  /**
   * A member's display name: from its sealed `hello` (the server knows none), or what a server
   * given a name by a non-browser client shows, or a placeholder until the hello arrives.
   */
  #nameOf(peer: PeerId): string {
    return this.session.names.peek().get(peer) ||
      this.session.members.peek().find((m) => m.peer === peer)?.name || "Joining…";
  }

  /** A member's name for a toast, or null while it has not arrived. */
  #knownName(peer: PeerId): string | null {
    if (this.#selves.has(peer)) return "you";
    return this.session.names.peek().get(peer) ||
      this.session.members.peek().find((m) => m.peer === peer)?.name || null;
  }

  /**
   * A host turned something of ours off: do it (the person may turn it back on), tell them,
   * then tell the features.
   */
  async #onMuted({ what, by }: MutedMessage): Promise<void> {
    const media = this.#o.media;
    let changed = false;
    if (what === "audio" && media.micOn.peek()) changed = await media.setMic(false);
    else if (what === "video" && media.video.peek()) changed = await media.setCamera(false);
    else if (what === "screen" && media.screen.peek()) {
      media.stopScreenShare();
      changed = true;
    }
    // "Mute everyone" reaches those already muted too: nothing to tell them.
    if (changed) {
      const host = this.session.names.peek().get(by) ?? "A host";
      this.#o.notify(
        "info",
        what === "audio"
          ? `${host} muted you. Unmute when you're ready.`
          : what === "video"
          ? `${host} turned off your camera. Turn it on when you're ready.`
          : `${host} stopped your screen share. Share again when you're ready.`,
      );
    }
    this.host.emit("muted", { what, by });
  }

  /**
   * Removals the room view lists that we have not announced yet: each goes to the features, and
   * is returned by peer so its "left" toast can say why. Those listed when we joined are
   * history, not news.
   */
  #newRemovals(): Map<PeerId, RemovalView> {
    const removals = this.session.room.peek()?.removals ?? [];
    const seen = this.#removalsSeen;
    // Only what the server still lists can come again: the set stays as small as the list.
    this.#removalsSeen = new Set(removals.map(removalKey));
    const fresh = new Map<PeerId, RemovalView>();
    if (seen === null) return fresh;
    for (const removal of removals) {
      if (seen.has(removalKey(removal)) || this.#selves.has(removal.peer)) continue;
      fresh.set(removal.peer, removal);
      this.host.emit("removed", removal);
    }
    return fresh;
  }

  /**
   * "Carol was removed by Ada", "Carol was disconnected: their connection couldn't reach you and
   * Dan" (the full-mesh guarantee let her go).
   */
  #removedText(name: string, removal: RemovalView): string {
    if (removal.code === "kicked") {
      const by = removal.by === null ? null : this.#knownName(removal.by);
      return by ? `${name} was removed by ${by}` : `${name} was removed by a host`;
    }
    const names = removal.unreachable.map((p) => this.#knownName(p));
    const whom = names.length > 0 && names.every((n) => n !== null)
      ? listNames(names as string[])
      : "everyone";
    return `${name} was disconnected: their connection couldn't reach ${whom}`;
  }

  /** Why `peer` went when it was no removal, as the room view says; null: it left. */
  #departureText(name: string, peer: PeerId): string | null {
    const departure = this.session.room.peek()?.departures?.findLast((d) => d.peer === peer);
    // Reasons of a newer server that this page does not know read as a plain "left".
    if (departure?.reason === "connection-lost") return `${name} lost their connection`;
    return null;
  }

  /**
   * A member's signals keep failing to open with our key (or its certificate did not match): it
   * holds another link's key, or someone relaying the signals forged them. Its link goes (the
   * roster sync leaves out unverified members) and is never made again; the person is told.
   */
  #onUnverified(): void {
    // Its name could only come sealed, so there is none to show.
    this.#o.notify(
      "error",
      "Could not verify a participant: their messages do not match this meeting's key, so you " +
        "are not connected to them. They may have an old or different link; ask them to use yours.",
    );
    this.#onRoster(this.session.members.peek());
  }

  /** The session dropped or came back: tell the person, resync links, watch the mesh. */
  #onSessionState(state: Session["state"]["value"]): void {
    if (state === "reconnecting") this.#selfAtDrop ??= this.session.self.peek();
    if (state === "joined" && this.#selfAtDrop) {
      // A fresh join (new peer id) says so itself, in #connect.
      if (this.#selfAtDrop === this.session.self.peek()) {
        this.#o.notify("info", "Reconnected to the meeting server.");
      }
      this.#selfAtDrop = null;
    }
    this.#checkReach();
    this.#watchMesh();
  }

  /**
   * Signals to a peer are lost while we or it cannot reach the server. Each link remembers
   * whether that happened since it was made, and once both are back it redoes what it needs.
   */
  #checkReach(): void {
    const links = this.#links;
    // Links of a former peer id are about to go (#connect): they must not signal as the new one.
    if (!links || this.#linksSelf !== this.session.self.peek()) return;
    const joined = this.session.state.peek() === "joined";
    const members = new Map(this.session.members.peek().map((m) => [m.peer, m]));
    for (const { peer } of links.values()) {
      const member = members.get(peer);
      // A link made from a newcomer's early offer, before the roster names it: nothing was lost.
      if (joined && !member) continue;
      if (!joined || !member!.connected) this.#cutOff.add(peer);
      else if (this.#cutOff.delete(peer)) links.resync(peer);
    }
  }

  /**
   * "The mesh itself is gone": the server unreachable and no link connected. That lasting the
   * grace period ends the meeting; any connected link keeps it going however long the server
   * is away.
   */
  #watchMesh(): void {
    const alone = this.session.state.peek() === "reconnecting" && !this.#links?.anyConnected();
    if (!alone) {
      clearTimeout(this.#meshTimer);
      this.#meshTimer = undefined;
    } else if (this.#meshTimer === undefined) {
      const graceMs = this.session.graceMs;
      this.#meshTimer = setTimeout(() => this.session.abandon(meshGone(graceMs)), graceMs);
    }
  }

  #onRoster(members: MemberView[]): void {
    const links = this.#links;
    if (!links) return;
    const host = this.host;
    const previous = this.#previous;
    const now = this.#previous = new Map(members.map((m) => [m.peer, m]));
    const unverified = this.session.unverified.peek();
    const linked = members.filter((m) => !unverified.has(m.peer)).map((m) => m.peer);
    for (const peer of links.sync(linked)) host.peerGone(peer);
    // Before the members who left: a removal comes with the roster that drops its member.
    const removed = this.#newRemovals();
    for (const m of members) {
      if (this.#selves.has(m.peer) || previous.has(m.peer)) continue;
      host.emit("peer-joined", m.peer);
      // Those already there when we arrived did not "join".
      if (previous.size === 0) continue;
      // Their name comes sealed, a moment after the roster: say who joined once it is here.
      if (this.session.names.peek().has(m.peer)) {
        this.#o.notify("join", `${this.#nameOf(m.peer)} joined`);
      } else this.#unnamedJoiners.add(m.peer);
    }
    for (const m of previous.values()) {
      if (this.#selves.has(m.peer) || now.has(m.peer)) continue;
      host.emit("peer-left", m.peer);
      this.session.forget(m.peer);
      if (!this.#unnamedJoiners.delete(m.peer)) {
        const removal = removed.get(m.peer);
        const name = this.#nameOf(m.peer);
        this.#o.notify(
          "leave",
          removal
            ? this.#removedText(name, removal)
            : this.#departureText(name, m.peer) ?? `${name} left`,
        );
      }
    }
    this.#publish();
    this.#scheduleReport();
    this.#checkReach();
    this.#watchMesh();
    void this.#encoder?.apply(this.#o.media.screen.peek() !== null);
  }

  /** Rebuilds `peers` from the roster, the links and presence. */
  #publish(): void {
    const links = this.#links;
    if (!links) return;
    const remote = this.presence.remote.peek();
    const unverified = this.session.unverified.peek();
    const list: RemotePeer[] = [];
    for (const m of this.session.members.peek()) {
      if (unverified.has(m.peer)) {
        list.push({
          peer: m.peer,
          name: UNVERIFIED_NAME,
          link: "failed",
          online: m.connected,
          verified: false,
          safetyCode: null,
          audioMuted: true,
          videoOff: true,
          camera: null,
          screen: null,
          quality: UNKNOWN_QUALITY,
          audioLevel: 0,
        });
        continue;
      }
      const record = links.get(m.peer);
      if (!record) continue;
      const presence = remote.get(m.peer);
      // A stopped share leaves an ended track behind; only live tracks count.
      const live = [...record.streams.values()].filter((s) =>
        s.getTracks().some((t) => t.readyState === "live")
      );
      const screenId = presence?.screenStream ?? null;
      const screen = screenId ? live.find((s) => s.id === screenId) ?? null : null;
      const camera = live.find((s) => s.id === presence?.cameraStream) ??
        live.find((s) => s.id !== screenId) ?? null;
      list.push({
        peer: m.peer,
        name: this.#nameOf(m.peer),
        link: record.link.state,
        online: m.connected,
        verified: true,
        safetyCode: this.safetyCodes.peek().get(m.peer) ?? null,
        audioMuted: presence?.audioMuted ?? false,
        videoOff: presence?.videoOff ?? false,
        camera,
        screen,
        quality: record.quality,
        audioLevel: record.audioLevel,
      });
    }
    this.peers.value = list;
  }

  /** Tells the server our view of every link, at most every REPORT_DELAY_MS. */
  #scheduleReport(): void {
    if (this.#reportTimer) return;
    this.#reportTimer = setTimeout(() => {
      this.#reportTimer = undefined;
      if (this.#links) this.session.reportLinks(this.#links.states());
    }, REPORT_DELAY_MS);
  }
}

/** One removal's identity: a peer id is removed at most once, but the time makes sure. */
function removalKey(removal: RemovalView): string {
  return `${removal.peer} ${removal.at}`;
}
