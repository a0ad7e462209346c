/**
 * The room's host controls (`RoomControls`, mesh/feature.ts) as the meeting core runs them: the
 * signals come from the session's latest welcome or roster, knocks are opened with the meeting
 * key as they arrive, host actions go through the session, and the meeting key can be switched
 * (`useKey`). One per `MeetingCore`, from the pre-join screen on: before joining, the signals are
 * empty and `act` sends nothing.
 *
 * @example
 * ```ts
 * const live = signal<Session | null>(null);
 * const room = new MeetingRoomControls({ source: live, key: parsed.key });
 * effect(() => console.log(room.isHost.value ? "host" : "member", room.knocks.value));
 * live.value = session; // once joined
 * ```
 */
import {
  batch,
  computed,
  effect,
  type ReadonlySignal,
  type Signal,
  signal,
  untracked,
} from "@preact/signals-core";
import type { HostAction, KnockView, RemovalView, RoomView } from "../signaling/protocol.ts";
import type { KnockEntry, RoomControls } from "./feature.ts";
import type { OpenedKnock } from "./key_ring.ts";
import { parseMeetingKey } from "./meeting_key.ts";
import type { PeerId } from "./types.ts";

/** What the controls read from a joined meeting; `Session` is one. Tests give their own. */
export interface RoomSource {
  /** Our peer id once welcomed. */
  readonly self: ReadonlySignal<PeerId | null>;
  /** Host actions go out only while `joined`. */
  readonly state: ReadonlySignal<string>;
  readonly room: ReadonlySignal<RoomView | null>;
  readonly knocks: ReadonlySignal<readonly KnockView[]>;
  readonly disputes: ReadonlySignal<readonly [PeerId, PeerId][]>;
  /** Sends a host action; false when it cannot go. */
  send(action: HostAction): boolean;
  /** Opens a knock's sealed name with the meeting key(s). */
  openKnock(id: PeerId, payload: unknown): Promise<OpenedKnock>;
  /** Switches the sealing key; rejects for a key the sealer refuses. */
  useKey(key: Uint8Array): Promise<void>;
}

/** What `MeetingRoomControls` needs. */
export interface RoomControlsOptions {
  /** The joined meeting's session, or null before joining (and in tests without one). */
  source: ReadonlySignal<RoomSource | null>;
  /** The meeting key as in the link (`parseMeetingKey(...).key`). */
  key: string;
}

const NONE: readonly never[] = Object.freeze([]);

/** The `RoomControls` of one meeting; see the module comment. */
export class MeetingRoomControls implements RoomControls {
  readonly hosts: ReadonlySignal<readonly PeerId[]>;
  readonly isHost: ReadonlySignal<boolean>;
  readonly locked: ReadonlySignal<boolean>;
  readonly lobby: ReadonlySignal<boolean>;
  readonly knocks: ReadonlySignal<readonly KnockEntry[]>;
  readonly disputes: ReadonlySignal<readonly [PeerId, PeerId][]>;
  readonly removals: ReadonlySignal<readonly RemovalView[]>;
  readonly key: ReadonlySignal<string>;
  readonly keyEpoch: ReadonlySignal<number>;
  readonly #source: ReadonlySignal<RoomSource | null>;
  readonly #key: Signal<string>;
  readonly #keyEpoch = signal(0);
  /** Opened knocks of the current lobby, by key, knock id and payload. */
  readonly #opened = signal<ReadonlyMap<string, OpenedKnock>>(new Map());
  /** `useKey` calls, one at a time, so each judges the epoch the previous one left. */
  #switching: Promise<unknown> = Promise.resolve();
  readonly #stop: () => void;

  constructor(opts: RoomControlsOptions) {
    const source = this.#source = opts.source;
    this.#key = signal(opts.key);
    this.key = this.#key;
    this.keyEpoch = this.#keyEpoch;
    const view = computed(() => source.value?.room.value ?? null);
    this.hosts = computed(() => view.value?.hosts ?? NONE);
    this.isHost = computed(() => {
      const self = source.value?.self.value;
      return !!self && this.hosts.value.includes(self);
    });
    this.locked = computed(() => view.value?.locked ?? false);
    this.lobby = computed(() => view.value?.lobby ?? false);
    this.removals = computed(() => view.value?.removals ?? NONE);
    // The server sends these to hosts only; a demoted host's next roster has none.
    this.disputes = computed(() => this.isHost.value ? source.value?.disputes.value ?? NONE : NONE);
    const raw = computed(() => this.isHost.value ? source.value?.knocks.value ?? NONE : NONE);
    this.knocks = computed(() => {
      const opened = this.#opened.value;
      const key = this.#key.value;
      return raw.value.map((k): KnockEntry => {
        const result = k.payload === null ? undefined : opened.get(knockKey(key, k));
        return {
          id: k.id,
          name: result?.name ?? null,
          verified: result?.verified ?? false,
          at: k.at,
        };
      });
    });
    // Knocks are opened as they arrive, and again with a new key (one that did not open with
    // the old key may open with the new: a newcomer with the new link, before we switched).
    this.#stop = effect(() => {
      const list = raw.value;
      const from = source.value;
      const key = this.#key.value;
      untracked(() => this.#open(from, key, list));
    });
  }

  act(action: HostAction): boolean {
    const source = this.#source.peek();
    if (!source || source.state.peek() !== "joined" || !this.isHost.peek()) return false;
    return source.send(action);
  }

  useKey(key: string, epoch: number): Promise<boolean> {
    const result = this.#switching.then(() => this.#useKey(key, epoch));
    this.#switching = result.catch(() => undefined);
    return result;
  }

  /** The current key, as text and bytes (the link to share, the key to join with). */
  get current(): { key: string; bytes: Uint8Array } {
    const parsed = parseMeetingKey(this.#key.peek());
    if (!parsed.ok) throw new Error("MeetingRoomControls: the current key is not a meeting key");
    return { key: parsed.key, bytes: parsed.bytes };
  }

  /** Stops opening knocks (the meeting is over). */
  dispose(): void {
    this.#stop();
  }

  async #useKey(key: string, epoch: number): Promise<boolean> {
    const parsed = parseMeetingKey(key);
    if (!parsed.ok || !Number.isSafeInteger(epoch)) return false;
    const current = this.#keyEpoch.peek();
    if (epoch < current) return false;
    // Two hosts rotating at once send the same epoch: everyone keeps the larger key.
    if (epoch === current && !(parsed.key > this.#key.peek())) return false;
    const source = this.#source.peek();
    try {
      await source?.useKey(parsed.bytes);
    } catch (err) {
      console.warn("The new meeting key could not be used:", err);
      return false;
    }
    batch(() => {
      this.#key.value = parsed.key;
      this.#keyEpoch.value = epoch;
    });
    return true;
  }

  /** Opens every knock whose payload arrived and was not opened yet; forgets knocks gone. */
  #open(source: RoomSource | null, key: string, list: readonly KnockView[]): void {
    const wanted = new Set(list.filter((k) => k.payload !== null).map((k) => knockKey(key, k)));
    const opened = this.#opened.peek();
    if ([...opened.keys()].some((key) => !wanted.has(key))) {
      this.#opened.value = new Map([...opened].filter(([key]) => wanted.has(key)));
    }
    if (!source) return;
    for (const knock of list) {
      const id = knockKey(key, knock);
      if (knock.payload === null || this.#opened.peek().has(id)) continue;
      // The session keeps each result, so asking again while one is under way costs nothing.
      void source.openKnock(knock.id, knock.payload).then((result) => {
        // Gone meanwhile, or the key changed: the effect asks again for what is still wanted.
        const now = raw(this.#source.peek());
        if (this.#key.peek() !== key || !now.some((k) => knockKey(key, k) === id)) return;
        this.#opened.value = new Map(this.#opened.peek()).set(id, result);
      });
    }
  }
}

/** A source's knocks, now. */
function raw(source: RoomSource | null): readonly KnockView[] {
  return source?.knocks.peek() ?? NONE;
}

function knockKey(key: string, knock: KnockView): string {
  return `${key} ${knock.id} ${JSON.stringify(knock.payload)}`;
}

/**
 * Room controls with no meeting behind them: empty lists, `act` sends nothing, `useKey` only
 * changes the signals. For a `FeatureHost` made without a meeting (tests, the test mesh).
 */
export function detachedRoomControls(key = ""): MeetingRoomControls {
  return new MeetingRoomControls({ source: signal(null), key });
}
