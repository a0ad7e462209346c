/**
 * The meeting's sealing keys over time: the current one, and for `PREVIOUS_KEY_WINDOW_MS` after a
 * switch, the previous one. Hosts rotate the meeting key after removing someone (the removed
 * person still has the old link); the members switch one after another as the new key reaches
 * them over the mesh, so for a while some seal with the old key and some with the new.
 *
 * - **Seal** always with the current key: once we have switched, nothing new goes out under the
 *   old one.
 * - **Open** with the current key, then (within the window) the previous one, but only for a
 *   sender already verified with the previous key: a member who was in the meeting before the
 *   switch and has not switched yet still opens, and is not counted as failing (a failure counts
 *   only when every key it may use fails). Someone who arrives after the switch with the old
 *   link (the removed person from another browser, say) is never opened with the old key. After
 *   the window the previous key is forgotten, and a member still sealing with it (one the new
 *   key never reached) fails like anyone with another key, and becomes `untrusted`.
 *
 * Each key has its own `SealSession` for our peer id (its own session nonce and counter), so
 * receivers pin and count each key's envelopes separately, with `seal.ts`'s replay rules intact.
 *
 * The lobby (`LOBBY_PEER`) uses the current key only: a newcomer waiting to be let in seals its
 * name as from its future peer id to `LOBBY_PEER`, and hosts open it as addressed to
 * `LOBBY_PEER`. A knock with the old link shows as "could not verify": its sender could not
 * take part anyway.
 *
 * @example
 * ```ts
 * const ring = await SealRing.create({ key: parseMeetingKey(location.hash).bytes, room });
 * const session = ring.session(welcome.peer);
 * signaling.signal(to, await session.seal(to, { sdp }));
 * const opened = await session.open(from, payload); // new key, else the old one for 60 s
 * await ring.useKey(newKeyBytes); // from a host, after a removal
 * ```
 */
import { checkName, isObject } from "./checks.ts";
import { MAX_TRACKED_SENDERS, type OpenResult, type SealedEnvelope, Sealer } from "./seal.ts";
import type { SealSession } from "./seal.ts";
import type { PeerId } from "./types.ts";

/** How long after a key switch envelopes sealed with the previous key still open. */
export const PREVIOUS_KEY_WINDOW_MS = 60_000;

/**
 * The recipient of a lobby knock: newcomers seal `{name}` to it (16 characters, a valid peer id
 * no server ever hands out, since the server's ids are random).
 */
export const LOBBY_PEER = "mooz-lobby-knock";

/** What `SealRing.create` needs. */
export interface SealRingOptions {
  /** The meeting key's bytes (`parseMeetingKey(...).bytes`). */
  key: Uint8Array;
  /** The room id, as in the link. */
  room: string;
  /** See `SealerOptions.untrustedAfter`. */
  untrustedAfter?: number;
  /** Defaults to `PREVIOUS_KEY_WINDOW_MS`; tests shorten it. */
  windowMs?: number;
  /** The clock; tests move it. */
  now?: () => number;
}

/** A knock opened by a host: the newcomer's name, or "" with `verified: false`. */
export interface OpenedKnock {
  /** The name the newcomer sealed; "" when it did not open (another key) or was not a name. */
  name: string;
  /** Whether the knock opened with one of our keys and held a valid name. */
  verified: boolean;
}

/** One key in use: its sealer, and the sealing sessions made with it. */
interface KeyEntry {
  sealer: Sealer;
  /** One per peer id of ours (sealing and opening state). */
  sessions: Map<PeerId, SealSession>;
}

/** The current and previous sealing keys of one meeting; see the module comment. */
export class SealRing {
  readonly room: string;
  readonly untrustedAfter: number;
  readonly #windowMs: number;
  readonly #now: () => number;
  #current: KeyEntry;
  #previous: KeyEntry | null = null;
  /** When the previous key stops opening. */
  #previousUntil = 0;
  /** Bumped on every switch, so sessions reset their failure counts. */
  #generation = 0;

  private constructor(first: Sealer, opts: SealRingOptions) {
    this.room = opts.room;
    this.untrustedAfter = first.untrustedAfter;
    this.#windowMs = opts.windowMs ?? PREVIOUS_KEY_WINDOW_MS;
    this.#now = opts.now ?? Date.now;
    this.#current = entry(first);
  }

  /** Derives the first key (`Sealer.create`; throws as it does for a bad key or room). */
  static async create(opts: SealRingOptions): Promise<SealRing> {
    const sealer = await Sealer.create({
      key: opts.key,
      room: opts.room,
      untrustedAfter: opts.untrustedAfter,
    });
    return new SealRing(sealer, opts);
  }

  /**
   * Switches to a new key: sealing uses it from now on, and the current one becomes the previous
   * one, still opening for the window. Throws a `TypeError` for a key `Sealer.create` refuses.
   */
  async useKey(key: Uint8Array): Promise<void> {
    const sealer = await Sealer.create({
      key,
      room: this.room,
      untrustedAfter: this.untrustedAfter,
    });
    this.#previous = this.#current;
    this.#previousUntil = this.#now() + this.#windowMs;
    this.#current = entry(sealer);
    this.#generation++;
  }

  /** Whether a previous key still opens (the window after the last switch). */
  get hasPrevious(): boolean {
    return this.#previousEntry() !== null;
  }

  /** Switches so far (0 with the link's key). */
  get generation(): number {
    return this.#generation;
  }

  /** The sealing session of our peer id `self`, across keys. One per join; keep it across resumes. */
  session(self: PeerId): RingSession {
    return new RingSession(this, self);
  }

  /** Seals a knock: `{ name }` from the newcomer's future peer id `knock` to `LOBBY_PEER`. */
  sealKnock(knock: PeerId, name: string): Promise<SealedEnvelope> {
    return this.#current.sealer.session(knock).seal(LOBBY_PEER, { name });
  }

  /**
   * Opens a knock as a host, with the current key only (see the module comment). Never throws.
   * Each knock is opened by a session of its own, so no state builds up across knocks: an
   * envelope opens only as from the knock id it was sealed for, so a knock moved to another id
   * fails, and one repeated under its own id says the same name again (callers keep results by
   * knock id, payload and key anyway: Session does).
   */
  async openKnock(knock: PeerId, payload: unknown): Promise<OpenedKnock> {
    const opened = await this.#current.sealer.session(LOBBY_PEER).open(knock, payload);
    const name = opened.ok && isObject(opened.payload) ? checkName(opened.payload.name) : null;
    return name === null ? { name: "", verified: false } : { name, verified: true };
  }

  /** @internal The current key's session for `self`. */
  currentSession(self: PeerId): SealSession {
    return sessionOf(this.#current, self);
  }

  /** @internal The previous key's session for `self`, while the window lasts. */
  previousSession(self: PeerId): SealSession | null {
    const previous = this.#previousEntry();
    return previous ? sessionOf(previous, self) : null;
  }

  #previousEntry(): KeyEntry | null {
    if (this.#previous && this.#now() >= this.#previousUntil) this.#previous = null;
    return this.#previous;
  }
}

function entry(sealer: Sealer): KeyEntry {
  return { sealer, sessions: new Map() };
}

function sessionOf(key: KeyEntry, self: PeerId): SealSession {
  let session = key.sessions.get(self);
  if (!session) key.sessions.set(self, session = key.sealer.session(self));
  return session;
}

/**
 * One peer id's sealing across the ring's keys: seals with the current key, opens with the
 * current then the previous one, and judges `untrusted` on failures of every key.
 */
export class RingSession {
  readonly #ring: SealRing;
  readonly self: PeerId;
  /**
   * Envelopes per sender that no key opened (failed or malformed), since the last switch; least
   * recently touched first, at most `MAX_TRACKED_SENDERS` (a server naming made-up senders must
   * not grow it).
   */
  readonly #failures = new Map<PeerId, number>();
  #generation: number;
  #sealing: Promise<unknown> = Promise.resolve();
  #opening: Promise<unknown> = Promise.resolve();

  constructor(ring: SealRing, self: PeerId) {
    this.#ring = ring;
    this.self = self;
    this.#generation = ring.generation;
  }

  /**
   * Seals with the current key. Settles in call order, also across a key switch (as
   * `SealSession.seal`; it rejects as that does).
   */
  seal(to: PeerId, payload: unknown): Promise<SealedEnvelope> {
    const result = this.#sealing.then(() => this.#ring.currentSession(this.self).seal(to, payload));
    this.#sealing = result.catch(() => undefined);
    return result;
  }

  /**
   * Opens with the current key, then, if it does not open at all (`failed`), with the previous
   * one while the window lasts and only for a sender verified with it before. A failure is
   * counted against `from` only when no key opened it. Never throws; settles in call order.
   */
  open(from: PeerId, envelope: unknown): Promise<OpenResult> {
    const result = this.#opening.then(() => this.#open(from, envelope));
    this.#opening = result.catch(() => undefined);
    return result;
  }

  /**
   * Whether `from` is to be shown as "could not verify": `untrustedAfter` envelopes since the last
   * key switch that no key opened, and none that opened with a key still in use.
   */
  untrusted(from: PeerId): boolean {
    this.#resetOnSwitch();
    if ((this.#failures.get(from) ?? 0) < this.#ring.untrustedAfter) return false;
    return !this.verified(from);
  }

  /** Whether an envelope from `from` opened with a key still in use. */
  verified(from: PeerId): boolean {
    return this.#ring.currentSession(this.self).verified(from) ||
      (this.#ring.previousSession(this.self)?.verified(from) ?? false);
  }

  /** `from` left for good: its records go under every key (`SealSession.forget`). */
  forget(peer: PeerId): void {
    this.#failures.delete(peer);
    this.#ring.currentSession(this.self).forget(peer);
    this.#ring.previousSession(this.self)?.forget(peer);
  }

  async #open(from: PeerId, envelope: unknown): Promise<OpenResult> {
    this.#resetOnSwitch();
    let opened = await this.#ring.currentSession(this.self).open(from, envelope);
    const previous = this.#ring.previousSession(this.self);
    // Only an envelope that did not open at all may be the old key's; anything else (replayed,
    // stale session, not JSON inside) opened with the current key and is judged by it. And
    // only from a member who was one before the switch: newcomers need the new key.
    if (!opened.ok && opened.reason === "failed" && previous?.verified(from)) {
      const old = await previous.open(from, envelope);
      if (old.ok || old.reason !== "failed") opened = old;
    }
    if (!opened.ok && (opened.reason === "failed" || opened.reason === "malformed")) {
      this.#countFailure(from);
    }
    return opened;
  }

  #countFailure(from: PeerId): void {
    const count = (this.#failures.get(from) ?? 0) + 1;
    this.#failures.delete(from);
    this.#failures.set(from, count);
    if (this.#failures.size > MAX_TRACKED_SENDERS) {
      this.#failures.delete(this.#failures.keys().next().value as PeerId);
    }
  }

  /** Failures under the old keys say nothing about the new one. */
  #resetOnSwitch(): void {
    if (this.#generation === this.#ring.generation) return;
    this.#generation = this.#ring.generation;
    this.#failures.clear();
  }
}
