/**
 * Records the meeting in this browser: one picture of everyone as laid out (compositor.ts), one
 * sound of everyone with our microphone (mixer.ts), into one MediaRecorder whose two tracks never
 * change, in chunks written to disk as they come (journal.ts), then copied into a seekable file
 * (finalize.ts). Loaded only when someone presses Record.
 *
 * Who joins, leaves, mutes or shares a screen only changes what is drawn and mixed. The frames
 * are drawn on the audio clock (clock.ts), so a recording made from a background tab keeps its
 * picture.
 *
 * @example
 * ```ts
 * const context = new AudioContext(); // in the click
 * const recorder = await MeetingRecorder.start({ meeting, feature, context });
 * recorder.pause(); recorder.resume();
 * await recorder.stop(); // recorder.saved.value: the file
 * ```
 */
import { effect, signal } from "@preact/signals-core";
import { buildTiles } from "../../components/meeting/tiles.ts";
import { preferences } from "../../components/meeting/preferences.ts";
import type { MeetingCore } from "../../mesh/meeting.ts";
import { audioTicker } from "./clock.ts";
import { Compositor, type FrameStats } from "./compositor.ts";
import { finalize, recordingTitle, type SavedRecording } from "./finalize.ts";
import { formatBytes, formatDuration, pickMimeType } from "./format.ts";
import { DiskFullError, isQuotaError, Journal } from "./journal.ts";
import { AudioMix } from "./mixer.ts";
import type { Recording } from "./recording.ts";
import { composeScene } from "./scene.ts";

/** The picture's size and pace. */
export const VIDEO = { width: 1280, height: 720, fps: 15, bitsPerSecond: 2_500_000 };
/** Opus at a rate that keeps voices and music clean. */
export const AUDIO_BITS_PER_SECOND = 128_000;
/** How often the recorder hands a chunk over to be written. */
export const TIMESLICE_MS = 1_000;
/** A key frame at least this often: where an MP4 chunk can end, and where a player can seek. */
export const KEY_FRAME_INTERVAL_MS = 1_000;
/** Free space under which a recording does not start (about 10 minutes at the rates above). */
export const MIN_FREE_BYTES = 200 * 1024 * 1024;
/** Warn when less than this much recording time is left on the disk. */
const LOW_SPACE_WARNING_S = 120;
const SPACE_CHECK_MS = 10_000;

/** Where a recording is. */
export type RecorderPhase = "recording" | "paused" | "stopping" | "saving" | "saved" | "failed";

export interface StartOptions {
  meeting: MeetingCore;
  feature: Recording;
  /** Made in the click that starts recording (browsers start audio only after one). */
  context: AudioContext;
}

/** Free space left for this site's storage, bytes, or null when the browser does not say. */
async function freeSpace(): Promise<number | null> {
  try {
    const { quota, usage } = await navigator.storage.estimate();
    return quota === undefined || usage === undefined ? null : quota - usage;
  } catch {
    return null;
  }
}

/** One recording of the meeting, from its start to its saved file. */
export class MeetingRecorder {
  readonly phase = signal<RecorderPhase>("recording");
  /** Time recorded, pauses excluded (updated on every frame). */
  readonly elapsedMs = signal(0);
  /** Bytes written to disk so far. */
  readonly bytes = signal(0);
  /** Saving: 0..1. */
  readonly progress = signal(0);
  /** Why it stopped early or could not be saved, in words for the person. */
  readonly error = signal("");
  /** The file, once saved. */
  readonly saved = signal<SavedRecording | null>(null);
  /** The format recorded. */
  readonly mimeType: string;
  /** When it started (`Date.now()`). */
  readonly startedAt: number;
  /** The journal entry's id (an unfinished recording, until saved). */
  readonly id: string;

  readonly #o: StartOptions;
  readonly #journal: Journal;
  readonly #compositor: Compositor;
  readonly #mix: AudioMix;
  readonly #recorder: MediaRecorder;
  readonly #stops: (() => void)[] = [];
  #activeSince = 0;
  #accumulated = 0;
  #lastSpeaker: string | null = null;
  #lastSync = 0;
  #stopping: Promise<void> | null = null;
  #warned = false;

  private constructor(
    o: StartOptions,
    journal: Journal,
    entry: { id: string; startedAt: number; mimeType: string },
  ) {
    this.#o = o;
    this.#journal = journal;
    this.id = entry.id;
    this.startedAt = entry.startedAt;
    this.mimeType = entry.mimeType;
    this.#mix = new AudioMix(o.context);
    this.#compositor = new Compositor(VIDEO, VIDEO.fps);
    const options: MediaRecorderOptions & { videoKeyFrameIntervalDuration?: number } = {
      mimeType: entry.mimeType,
      videoBitsPerSecond: VIDEO.bitsPerSecond,
      audioBitsPerSecond: AUDIO_BITS_PER_SECOND,
      // Chromium's MP4 writer closes a fragment (and hands over a chunk) only at a key frame,
      // and its encoder makes none for a still picture: without this, a meeting where nothing
      // moves would stay in memory until Stop, and a crash would lose all of it.
      videoKeyFrameIntervalDuration: KEY_FRAME_INTERVAL_MS,
    };
    this.#recorder = new MediaRecorder(
      new MediaStream([this.#compositor.track, this.#mix.track]),
      options,
    );
  }

  /**
   * Starts recording: checks the disk, opens the journal, draws and mixes, tells everyone.
   * Throws (with words for the person) when it cannot.
   */
  static async start(o: StartOptions): Promise<MeetingRecorder> {
    if (typeof MediaRecorder === "undefined") {
      throw new Error("This browser cannot record. Use a current Chrome, Edge, Firefox or Safari.");
    }
    const mimeType = pickMimeType((t) => MediaRecorder.isTypeSupported(t));
    if (!mimeType) throw new Error("This browser cannot record video in MP4 or WebM.");
    const free = await freeSpace();
    if (free !== null && free < MIN_FREE_BYTES) {
      throw new DiskFullError(
        `Only ${formatBytes(free)} of disk space is free for recordings here; free some space ` +
          "(or delete saved recordings) and try again.",
      );
    }
    // Ask the browser not to clear recordings when space runs low (it may say no).
    void navigator.storage.persist?.().catch(() => false);
    if (o.context.state !== "running") await o.context.resume().catch(() => {});
    const journal = await Journal.open();
    const entry = await journal.create({ room: o.meeting.roomId, mimeType });
    const recorder = new MeetingRecorder(o, journal, entry);
    recorder.#begin();
    return recorder;
  }

  /**
   * How the picture kept up so far: `dropped` is every frame the clock should have drawn by now
   * (15 a second of recording) and did not, whatever the reason (a busy page, late ticks).
   */
  get frames(): Readonly<FrameStats> {
    const stats = this.#compositor.stats;
    const due = Math.floor(this.#elapsed() * VIDEO.fps / 1000) + 1;
    return { ...stats, dropped: Math.max(0, due - stats.drawn) };
  }

  /** Ids of the audio tracks mixed now (diagnostics, tests). */
  get mixed(): readonly string[] {
    return this.#mix.sources;
  }

  pause(): void {
    if (this.phase.peek() !== "recording") return;
    this.#recorder.pause();
    this.#accumulated += performance.now() - this.#activeSince;
    this.phase.value = "paused";
    this.#o.feature.announce({ on: true, paused: true });
  }

  resume(): void {
    if (this.phase.peek() !== "paused") return;
    this.#recorder.resume();
    this.#activeSince = performance.now();
    this.phase.value = "recording";
    this.#o.feature.announce({ on: true, paused: false });
    this.#frame(0);
  }

  /** Stops and saves; resolves once the file is saved (or saving failed: see `error`). */
  stop(): Promise<void> {
    this.#stopping ??= this.#finish(null);
    return this.#stopping;
  }

  #elapsed(): number {
    return this.#accumulated +
      (this.phase.peek() === "recording" ? performance.now() - this.#activeSince : 0);
  }

  #begin(): void {
    const { meeting, feature, context } = this.#o;
    this.#recorder.ondataavailable = (e) => {
      this.bytes.value += e.data.size;
      this.#journal.append(this.id, e.data, this.#elapsed()).catch((err) => this.#writeFailed(err));
    };
    // A recorder that stops by itself (a track ended, an encoder error) is saved as far as it got.
    this.#recorder.onstop = () => void this.stop();
    this.#recorder.onerror = (e) => {
      const err = (e as Event & { error?: DOMException }).error;
      this.#stopping ??= this.#finish(
        `The browser stopped the recording (${err?.message || "an encoder error"}). What was ` +
          "recorded up to then is kept.",
      );
    };
    // Sources change with the meeting: sync the mix at once, and once a second for tracks that
    // appear in a stream without any signal changing.
    this.#stops.push(effect(() => {
      meeting.peers.value;
      meeting.media.audio.value;
      meeting.media.screen.value;
      this.#syncAudio();
    }));
    // Someone who may no longer record (a host changed it), or a meeting that ends, stops it.
    this.#stops.push(effect(() => {
      if (!feature.allowed.value && this.#live()) {
        meeting.notify(
          "info",
          "A host no longer lets you record, so your recording stopped. It is being saved.",
        );
        void this.stop();
      }
    }));
    this.#stops.push(effect(() => {
      if (meeting.end.value && this.#live()) void this.stop();
    }));
    const tick = (missed: number) => this.#frame(missed);
    if (context.state === "running") {
      this.#stops.push(audioTicker(context, 1000 / VIDEO.fps, tick));
    } else {
      // No audio clock (the browser refused to start audio): timers, which slow down in a
      // background tab, are better than no picture.
      const timer = setInterval(() => tick(0), 1000 / VIDEO.fps);
      this.#stops.push(() => clearInterval(timer));
    }
    const space = setInterval(() => void this.#checkSpace(), SPACE_CHECK_MS);
    this.#stops.push(() => clearInterval(space));
    // Closing the tab would leave the recording unfinished (saved later from its chunks): the
    // browser asks first.
    const confirmLeaving = (e: BeforeUnloadEvent) => e.preventDefault();
    addEventListener("beforeunload", confirmLeaving);
    this.#stops.push(() => removeEventListener("beforeunload", confirmLeaving));
    this.#activeSince = performance.now();
    this.#frame(0);
    this.#recorder.start(TIMESLICE_MS);
    feature.announce({ on: true, paused: false });
  }

  #live(): boolean {
    const phase = this.phase.peek();
    return (phase === "recording" || phase === "paused") && this.#stopping === null;
  }

  #syncAudio(): void {
    const { meeting } = this.#o;
    const tracks: MediaStreamTrack[] = [];
    const mic = meeting.media.audio.peek();
    if (mic) tracks.push(mic);
    tracks.push(...meeting.media.screen.peek()?.getAudioTracks() ?? []);
    for (const p of meeting.peers.peek()) {
      tracks.push(...p.camera?.getAudioTracks() ?? [], ...p.screen?.getAudioTracks() ?? []);
    }
    this.#mix.sync(tracks);
    this.#lastSync = performance.now();
  }

  #frame(missed: number): void {
    if (this.phase.peek() !== "recording") return;
    const { meeting } = this.#o;
    if (performance.now() - this.#lastSync > 1_000) this.#syncAudio();
    const media = meeting.media;
    const mic = media.audio.peek();
    const tiles = buildTiles({
      self: meeting.self.peek(),
      name: meeting.local.peek()?.name ?? "",
      camera: media.video.peek() !== null ? media.stream : null,
      micOn: media.micOn.peek(),
      screen: media.screen.peek(),
      selfLevel: mic && media.micOn.peek() ? this.#mix.level(mic.id) : 0,
      peers: meeting.peers.peek().filter((p) => p.verified),
    });
    const talking = tiles.find((t) => t.speaking && t.kind === "camera");
    if (talking) this.#lastSpeaker = talking.key;
    const scene = composeScene(tiles, {
      layout: preferences.layout.peek(),
      lastSpeaker: this.#lastSpeaker,
      size: VIDEO,
    });
    this.#compositor.draw(scene, missed);
    this.elapsedMs.value = this.#elapsed();
  }

  async #checkSpace(): Promise<void> {
    if (this.#warned || !this.#live()) return;
    const free = await freeSpace();
    const elapsed = this.#elapsed();
    if (free === null || elapsed < 5_000) return;
    const perSecond = this.bytes.peek() / (elapsed / 1000);
    const secondsLeft = free / Math.max(1, perSecond);
    if (secondsLeft > LOW_SPACE_WARNING_S) return;
    this.#warned = true;
    this.#o.meeting.notify(
      "error",
      `Disk space is running low: about ${Math.max(1, Math.round(secondsLeft / 60))} minute(s) ` +
        "of recording left. Free some space, or stop the recording.",
    );
  }

  #writeFailed(err: unknown): void {
    if (this.#stopping) return;
    const at = formatDuration(this.#elapsed());
    this.#stopping = this.#finish(
      isQuotaError(err)
        ? `Your disk is full, so the recording stopped at ${at}. What was recorded up to then ` +
          "is kept: free some space, then save it under Recording."
        : `The recording could not be written to disk (${(err as Error)?.message ?? err}), so ` +
          `it stopped at ${at}. What was written up to then is kept under Recording.`,
    );
  }

  /** Stops everything; saves the file unless `failure` says why it cannot be now. */
  async #finish(failure: string | null): Promise<void> {
    const { feature, meeting } = this.#o;
    const elapsed = this.#elapsed();
    this.elapsedMs.value = elapsed;
    this.phase.value = "stopping";
    feature.announce({ on: false, paused: false });
    if (this.#recorder.state !== "inactive") {
      const stopped = new Promise<void>((resolve) =>
        this.#recorder.addEventListener("stop", () => resolve(), { once: true })
      );
      this.#recorder.stop();
      await stopped;
    }
    this.#stops.splice(0).forEach((stop) => stop());
    this.#compositor.close();
    this.#mix.close();
    void this.#o.context.close().catch(() => {});
    try {
      await this.#journal.stop(this.id, elapsed);
    } catch {
      // The record stays "recording" and unlocked: it shows as unfinished, as after a crash.
    }
    if (failure) {
      this.error.value = failure;
      this.phase.value = "failed";
      meeting.notify("error", failure);
      this.#journal.close();
      return;
    }
    this.phase.value = "saving";
    try {
      const raw = await this.#journal.blob(this.id);
      const saved = await finalize(
        raw,
        recordingTitle(this.startedAt),
        (p) => (this.progress.value = p),
      );
      await this.#journal.remove(this.id).catch(() => {});
      this.saved.value = saved;
      this.phase.value = "saved";
      meeting.notify("info", `Recording saved: ${saved.name}. Download it under Recording.`);
    } catch (err) {
      this.error.value = isQuotaError(err)
        ? "There is not enough disk space to save the recording as a file. It is kept: free " +
          "some space, then save it under Recording."
        : `The recording could not be saved as a file (${(err as Error)?.message ?? err}). It is ` +
          "kept: try saving it again under Recording.";
      this.phase.value = "failed";
      meeting.notify("error", this.error.peek());
    } finally {
      this.#journal.close();
    }
  }
}
