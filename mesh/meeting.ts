/**
 * The meeting core: one object per meeting page, from the pre-join screen to the end. It owns the
 * local media, joins the room (the session, the links and the features live in a `LiveMeeting`,
 * loaded while the pre-join screen shows), and exposes everything the UI shows as signals.
 * Islands create it, render its signals and call its methods; features talk to it through the
 * feature API (mesh/feature.ts). No UI and no framework here.
 *
 * @example
 * ```ts
 * const key = parseMeetingKey(location.hash); // the link's `#key`
 * if (!key.ok) throw new Error("show the incomplete-link screen instead");
 * const meeting = new MeetingCore({ room: "k3fq-9xmp-2hdw-7rtc-a4ze", key, features: [chat] });
 * await meeting.media.open({ audio: true, video: true });
 * await meeting.join("Ada"); // phase: joining, maybe waiting (lobby), then joined
 * meeting.feature(chat).send("Hello");
 * if (meeting.room.isHost.value) meeting.room.act({ type: "lock", locked: true });
 * ```
 */
import { batch, computed, type ReadonlySignal, signal } from "@preact/signals-core";
import type { JsonValue, MemberView } from "../signaling/protocol.ts";
import { browserSecret } from "./browser_secret.ts";
import type { FeatureDefinition, RoomControls } from "./feature.ts";
import type { DropReason } from "./feature_host.ts";
import type { LiveMeeting } from "./live_meeting.ts";
import { LocalMedia } from "./local_media.ts";
import { parseMeetingKey } from "./meeting_key.ts";
import type { Presence } from "./presence.ts";
import { MeetingRoomControls } from "./room_controls.ts";
import type { OpenFailure } from "./seal.ts";
import type { LinkStats, MeetingEnd, MeetingPhase, Notice, PeerId, RemotePeer } from "./types.ts";

type Features = readonly FeatureDefinition<unknown>[];

/** How to create a `MeetingCore`. */
export interface MeetingOptions {
  room: string;
  /**
   * The meeting key from the link's fragment: `parseMeetingKey(location.hash)` when it is `ok`.
   * Required: a meeting without its key has no unencrypted fallback.
   */
  key: MeetingKey;
  /**
   * The features of this meeting (features/mod.ts lists the app's), or a function that loads
   * them: a page can fetch its features while the person is still on the pre-join screen.
   */
  features?: Features | (() => Promise<Features>);
  /** The server's origin; the page's own by default. */
  origin?: string;
  /**
   * This browser's secret for the meeting; by default the one kept in localStorage
   * (`browserSecret(room)`). Tests pass one to play a browser that reloads, or another browser.
   */
  secret?: string;
  /** For tests: a WebSocket constructor. */
  WebSocket?: typeof WebSocket;
}

/** A meeting key as `parseMeetingKey` gives it: as written in the link, and its 16 bytes. */
export interface MeetingKey {
  readonly key: string;
  readonly bytes: Uint8Array;
}

interface IceResponse {
  iceServers: RTCIceServer[];
  iceTransportPolicy: RTCIceTransportPolicy;
}

const UNREACHABLE = "Can't reach the meeting server. Check your connection and try again.";

/** The meeting of one page; see the module comment and README "Writing a feature". */
export class MeetingCore {
  /** The room id, as in the link. */
  readonly roomId: string;
  /**
   * The room's host controls (hosts, lock, lobby and knocks, removals, the meeting key, host
   * actions): the object features get as `ctx.room`. Usable before joining (empty lists).
   */
  readonly room: RoomControls;
  readonly #room: MeetingRoomControls;
  /** Camera, microphone and screen; the pre-join screen opens them. */
  readonly media = new LocalMedia();
  /** Why joining failed before reaching the server (then the phase is back to `prejoin`). */
  readonly joinError = signal("");
  readonly notices = signal<Notice[]>([]);
  readonly #o: MeetingOptions;
  readonly #live = signal<LiveMeeting | null>(null);
  readonly #end = signal<MeetingEnd | null>(null);
  readonly #starting = signal(false);
  /** The joined part's code, loading since the core was created. */
  readonly #code: Promise<typeof import("./live_meeting.ts")>;
  #noticeSeq = 0;
  #disposed = false;

  readonly phase: ReadonlySignal<MeetingPhase> = computed(() => {
    if (this.#end.value) return "ended";
    const live = this.#live.value;
    if (live) return live.session.state.value;
    return this.#starting.value ? "joining" : "prejoin";
  });
  /** Why the meeting ended, once it has. */
  readonly end: ReadonlySignal<MeetingEnd | null> = this.#end;
  readonly self: ReadonlySignal<PeerId | null> = computed(() =>
    this.#live.value?.session.self.value ?? null
  );
  /** Everyone in the room, us included, in join order. */
  readonly members: ReadonlySignal<MemberView[]> = computed(() =>
    this.#live.value?.session.members.value ?? []
  );
  readonly capacity: ReadonlySignal<number | null> = computed(() =>
    this.#live.value?.session.capacity.value ?? null
  );
  /** The other participants with their links, streams and presence, in join order. */
  readonly peers: ReadonlySignal<RemotePeer[]> = computed(() =>
    this.#live.value?.peers.value ?? []
  );
  /** What the others see of us, once joined. */
  readonly local: ReadonlySignal<Presence | null> = computed(() =>
    this.#live.value?.local.value ?? null
  );

  constructor(opts: MeetingOptions) {
    this.#o = opts;
    this.roomId = opts.room;
    // The key as written is the truth; bytes that do not match it are a caller's mistake.
    const parsed = parseMeetingKey(opts.key?.key);
    const bytes = opts.key?.bytes;
    if (
      !parsed.ok || !(bytes instanceof Uint8Array) || bytes.length !== parsed.bytes.length ||
      !parsed.bytes.every((b, i) => b === bytes[i])
    ) {
      throw new TypeError(
        "MeetingCore: `key` must be a meeting key: pass parseMeetingKey(location.hash) once it " +
          "is ok, and show the incomplete-link screen when it is not",
      );
    }
    this.room = this.#room = new MeetingRoomControls({
      source: computed(() => this.#live.value?.session ?? null),
      key: parsed.key,
    });
    this.#code = import("./live_meeting.ts");
    // Not awaited yet; a failure to load is reported when joining.
    this.#code.catch(() => {});
  }

  /**
   * The meeting key (the part after `#`; the server never sees it): the link's, or the newer one
   * a host switched the meeting to (`room.useKey`). Links to share are made with this one.
   */
  get key(): MeetingKey {
    return this.#room.current;
  }

  /** The instance of a feature of this meeting (once joined). */
  feature<E>(definition: FeatureDefinition<E>): E {
    const live = this.#live.peek();
    if (!live) throw new Error("Features exist once the meeting is joined: call join() first.");
    return live.host.get(definition);
  }

  /** Messages peers sent that no feature saw, by reason (diagnostics, tests). */
  get dropped(): Readonly<Record<DropReason, number>> | null {
    return this.#live.peek()?.dropped ?? null;
  }

  /**
   * Signals that did not open with the meeting key and were dropped, by reason (`seal.ts`):
   * tampered, replayed, re-addressed or forged on the way (diagnostics, tests).
   */
  get signalsDropped(): Readonly<Record<OpenFailure, number>> | null {
    return this.#live.peek()?.session.dropped ?? null;
  }

  /** Joins as `name`: loads what joining needs, fetches the ICE servers, opens the session. */
  async join(name: string): Promise<void> {
    if (this.#live.peek() || this.#starting.peek() || this.#disposed) return;
    batch(() => {
      this.#starting.value = true;
      this.joinError.value = "";
    });
    const origin = this.#o.origin ?? location.origin;
    let ice: IceResponse, code: typeof import("./live_meeting.ts"), features: Features;
    let card: JsonValue | undefined;
    try {
      const wanted = this.#o.features ?? [];
      [code, features, ice, card] = await Promise.all([
        this.#code,
        typeof wanted === "function" ? wanted() : wanted,
        fetchIce(origin),
        // Who we are, for people about to join; a card that cannot be made is only a name less.
        import("./member_card.ts").then((m) => m.sealCard(this.key.bytes, this.roomId, name))
          .then((sealed) => sealed as unknown as JsonValue, () => undefined),
      ]);
    } catch {
      batch(() => {
        this.#starting.value = false;
        this.joinError.value = UNREACHABLE;
      });
      return;
    }
    if (this.#disposed) return;
    const live = new code.LiveMeeting({
      origin,
      room: this.roomId,
      key: this.key.bytes,
      secret: this.#o.secret ?? browserSecret(this.roomId),
      card,
      roomControls: this.room,
      name,
      rtc: { iceServers: ice.iceServers, iceTransportPolicy: ice.iceTransportPolicy },
      media: this.media,
      features,
      notify: (kind, text) => this.notify(kind, text),
      onEnd: (end) => {
        this.#end.value = end;
        queueMicrotask(() => this.dispose());
      },
      WebSocket: this.#o.WebSocket,
    });
    batch(() => {
      this.#live.value = live;
      this.#starting.value = false;
    });
  }

  // ---- Actions ----

  /** Unmutes or mutes the microphone. */
  async setMic(on: boolean): Promise<void> {
    if (!await this.media.setMic(on)) this.#mediaFailed("audio");
  }

  /** Turns the camera on or off (off stops the device). No renegotiation. */
  async setCamera(on: boolean): Promise<void> {
    if (!await this.media.setCamera(on)) this.#mediaFailed("video");
  }

  async useDevice(kind: "audio" | "video", deviceId: string): Promise<void> {
    if (!await this.media.useDevice(kind, deviceId)) this.#mediaFailed(kind);
  }

  async startScreenShare(): Promise<void> {
    if (!await this.media.startScreenShare()) this.#mediaFailed("screen");
  }

  stopScreenShare(): void {
    this.media.stopScreenShare();
  }

  /** In the meeting, a device that fails says so in a toast (the pre-join screen lists it). */
  #mediaFailed(kind: "audio" | "video" | "screen"): void {
    if (this.phase.peek() === "prejoin") return;
    const notice = this.media.notices.peek().findLast((n) => n.kind === kind);
    if (notice) this.notify("error", notice.message);
  }

  /** Raw per-link counters, for diagnostics and end-to-end tests (`__mooz.meeting.stats()`). */
  async stats(): Promise<Record<PeerId, LinkStats>> {
    return await this.#live.peek()?.stats() ?? {};
  }

  /** Shows a toast; errors stay longer. */
  notify(kind: Notice["kind"], text: string): void {
    const notice = { id: ++this.#noticeSeq, kind, text };
    this.notices.value = [...this.notices.value.slice(-4), notice];
    setTimeout(() => this.dismissNotice(notice.id), kind === "error" ? 8_000 : 4_000);
  }

  dismissNotice(id: number): void {
    this.notices.value = this.notices.value.filter((n) => n.id !== id);
  }

  /** Leaves the meeting; the others see us go at once. */
  leave(): void {
    this.#live.peek()?.leave();
  }

  /** Releases devices, links, timers and the session (after the end, or when the page goes). */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    this.#live.peek()?.close();
    this.#room.dispose();
    this.media.stop();
  }
}

async function fetchIce(origin: string): Promise<IceResponse> {
  const res = await fetch(new URL("/api/ice", origin));
  if (!res.ok) throw new Error(`GET /api/ice: HTTP ${res.status}`);
  return await res.json();
}
