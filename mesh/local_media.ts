/**
 * The local camera, microphone and screen. Opens what it can and says plainly what it could not
 * (denied, missing, busy), so a meeting can go on without a camera or a microphone.
 */
import { batch, effect, type ReadonlySignal, signal, untracked } from "@preact/signals-core";

export interface MediaNotice {
  kind: "audio" | "video" | "screen";
  message: string;
}

export interface DeviceChoice {
  audio?: string;
  video?: string;
}

/**
 * What the browser said the last time a camera or microphone was asked for: `unknown` before any
 * request, `blocked` when permission was refused (by the person or the site's settings), `missing`
 * when there is no such device, `failed` when it exists but could not start (busy, broken).
 */
export type MediaAccess = "unknown" | "granted" | "blocked" | "missing" | "failed";

/** The audio processing the microphone is opened with; only noise suppression is a choice. */
export function audioProcessing(noiseSuppression: boolean): MediaTrackConstraints {
  return { echoCancellation: true, noiseSuppression, autoGainControl: true };
}

/** Ideal camera capture: 720p is what the bandwidth policy scales down from. */
const VIDEO: MediaTrackConstraints = {
  width: { ideal: 1280 },
  height: { ideal: 720 },
  frameRate: { ideal: 30, max: 30 },
};

/** What a getUserMedia failure says about access to the device. */
export function accessOf(err: unknown): MediaAccess {
  switch (err instanceof DOMException ? err.name : "") {
    case "NotAllowedError":
    case "SecurityError":
      return "blocked";
    case "NotFoundError":
    case "OverconstrainedError":
      return "missing";
    default:
      return "failed";
  }
}

/** Words for a getUserMedia/getDisplayMedia failure, with what to do about it. */
export function describeMediaError(kind: "audio" | "video" | "screen", err: unknown): string {
  const what = kind === "audio" ? "microphone" : kind === "video" ? "camera" : "screen sharing";
  const name = err instanceof DOMException ? err.name : "";
  switch (name) {
    case "NotAllowedError":
    case "SecurityError":
      return kind === "screen"
        ? "Screen sharing was cancelled or blocked."
        : `Access to the ${what} was denied. Allow it in the browser's site settings (the icon left of the address), then turn it on again.`;
    case "NotFoundError":
    case "OverconstrainedError":
      return `No ${what} was found. Connect one, then turn it on again.`;
    case "NotReadableError":
    case "AbortError":
      return `The ${what} is in use by another app or could not start. Close that app and try again.`;
    default:
      return typeof navigator !== "undefined" && !navigator.mediaDevices
        ? "This page is not on HTTPS (or localhost), so the browser offers no camera or microphone."
        : `The ${what} could not start (${name || String(err)}).`;
  }
}

/**
 * The camera+microphone stream sent to peers and the screen share, as signals the UI renders and
 * the meeting core follows (it puts every new track on every link with `RTCRtpSender.replaceTrack`,
 * so switching a device needs no renegotiation). Turning the camera off stops the device, so its
 * light goes out; muting keeps the microphone open (instant unmute, and the level meter can tell
 * someone they are talking while muted).
 */
export class LocalMedia {
  /** The camera+microphone stream; its tracks change as devices turn on and off. */
  readonly stream = new MediaStream();
  readonly audio = signal<MediaStreamTrack | null>(null);
  readonly video = signal<MediaStreamTrack | null>(null);
  /** Microphone open and not muted. */
  readonly micOn = signal(false);
  readonly screen = signal<MediaStream | null>(null);
  /** What could not start, and what to do about it. */
  readonly notices = signal<MediaNotice[]>([]);
  /** Microphones, cameras and speakers; labels (and ids) are empty until permission is granted. */
  readonly devices = signal<MediaDeviceInfo[]>([]);
  /** Per kind, what the browser said the last time it was asked for the device. */
  readonly access = signal<Record<"audio" | "video", MediaAccess>>({
    audio: "unknown",
    video: "unknown",
  });
  /**
   * The device of each kind a picker shows: the one in use, else the one chosen or last used (a
   * camera turned off keeps its device, and comes back on with it).
   */
  readonly selected = signal<DeviceChoice>({});
  /** Whether `open` has finished (the pre-join screen waits for it). */
  readonly ready = signal(false);
  #choice: DeviceChoice;
  #noiseSuppression = true;
  #stopFollowing: (() => void) | null = null;
  /** Per kind, device changes one at a time: an earlier switch must not finish last and win. */
  #queues: Record<"audio" | "video", Promise<unknown>> = {
    audio: Promise.resolve(),
    video: Promise.resolve(),
  };
  #stops: (() => void)[] = [];
  #watching = false;
  #stopped = false;

  constructor(choice: DeviceChoice = {}) {
    this.#choice = choice;
    this.selected.value = { ...choice };
  }

  /** Opens the microphone and/or camera; each may fail on its own, with a notice. */
  async open(want: { audio: boolean; video: boolean }): Promise<void> {
    this.notices.value = [];
    if (!navigator.mediaDevices?.getUserMedia) {
      if (want.audio || want.video) {
        this.notices.value = [{ kind: "video", message: describeMediaError("video", null) }];
      }
    } else if (want.audio && want.video && await this.#openBoth()) {
      // One request, so the browser asks for permission once.
    } else {
      if (want.audio) await this.#setTrack("audio", true);
      if (want.video) await this.#setTrack("video", true);
    }
    await this.refreshDevices();
    this.#watchDevices();
    this.ready.value = true;
  }

  /** Lists the devices again: after a permission, or when one was plugged in or out. */
  async refreshDevices(): Promise<void> {
    const found = await listDevices();
    if (!this.#stopped) this.devices.value = found;
  }

  async #openBoth(): Promise<boolean> {
    try {
      const both = await navigator.mediaDevices.getUserMedia({
        audio: this.#constraints("audio"),
        video: this.#constraints("video"),
      });
      both.getTracks().forEach((t) => this.#put(t));
      this.#granted("audio");
      this.#granted("video");
      return true;
    } catch {
      return false; // find out which one failed, one at a time
    }
  }

  /** Unmutes (opening the microphone if needed) or mutes; false if it could not open. */
  async setMic(on: boolean): Promise<boolean> {
    const track = this.audio.value ?? (on ? await this.#setTrack("audio", true) : null);
    if (track) track.enabled = on;
    this.micOn.value = on && track !== null;
    return this.micOn.value === on;
  }

  /** Opens (a new track) or stops the camera; false if it could not open. */
  async setCamera(on: boolean): Promise<boolean> {
    return (await this.#setTrack("video", on) !== null) === on;
  }

  /**
   * Switches to another device of the same kind; false on failure (with a notice), and the one in
   * use stays. A camera that is off stays off (the choice holds for when it comes on); a muted
   * microphone stays muted.
   */
  useDevice(kind: "audio" | "video", deviceId: string): Promise<boolean> {
    return this.#serial(kind, async () => {
      const before = this.#choice;
      this.#choice = { ...before, [kind]: deviceId };
      this.#select(kind, deviceId);
      const ok = kind === "video"
        ? !this.video.peek() || await this.#setTrack("video", true) !== null
        : await this.#setTrack("audio", true, { enabled: this.micOn.peek() }) !== null;
      if (!ok) {
        this.#choice = before;
        this.#select(kind, this.#inUse(kind) ?? before[kind]);
      }
      return ok;
    });
  }

  /**
   * Turns the browser's noise suppression on or off for the microphone in use and every later
   * one. `applyConstraints` comes first; Chromium accepts it but goes on processing the track as
   * it was opened, so a track that did not follow is replaced by the same device opened anew
   * (which the links take without renegotiation). False if that failed (with a notice).
   */
  setNoiseSuppression(on: boolean): Promise<boolean> {
    this.#noiseSuppression = on;
    return this.#serial("audio", async () => {
      const track = this.audio.peek();
      // No microphone yet (the next one opens so), or a later call has changed it again.
      if (!track || this.#noiseSuppression !== on) return true;
      if (track.getSettings().noiseSuppression === on) return true;
      try {
        await track.applyConstraints(audioProcessing(on));
      } catch {
        // Opened anew below.
      }
      const now = track.getSettings().noiseSuppression;
      // A browser that does not report it gets the constraint and is believed.
      if (now === undefined || now === on || this.audio.peek() !== track) return true;
      const device = track.getSettings().deviceId;
      const enabled = track.enabled;
      try {
        // Asked for as an ideal, Chromium hands out the device's open source again, processing
        // included: only an exact constraint gets a new one.
        const fresh = (await navigator.mediaDevices.getUserMedia({
          audio: { ...this.#constraints("audio", device), noiseSuppression: { exact: on } },
        })).getAudioTracks()[0];
        fresh.enabled = enabled;
        this.#put(fresh);
        return true;
      } catch {
        // Chromium sometimes refuses even that while the device is open (it matches the open
        // source): close it (a moment of silence), then open it again.
        track.stop();
        return await this.#setTrack("audio", true, { enabled, device }) !== null;
      }
    });
  }

  /**
   * Keeps noise suppression as `setting` says (the person's preference) until `stop`. Call it
   * before `open`, so the first microphone opens with it.
   */
  followNoiseSuppression(setting: ReadonlySignal<boolean>): void {
    this.#stopFollowing?.();
    this.#stopFollowing = effect(() => {
      const on = setting.value;
      untracked(() => void this.setNoiseSuppression(on));
    });
  }

  /** Asks for a screen (with its audio when the browser offers it); false when cancelled. */
  async startScreenShare(): Promise<boolean> {
    if (this.screen.value) return true;
    try {
      if (!navigator.mediaDevices?.getDisplayMedia) {
        throw new DOMException("This browser cannot share the screen.", "NotSupportedError");
      }
      const stream = await navigator.mediaDevices.getDisplayMedia({
        video: { frameRate: { ideal: 15, max: 30 } },
        audio: true,
      });
      const video = stream.getVideoTracks()[0];
      // Text on a screen needs sharpness more than motion: tell the encoder.
      if (video) video.contentHint = "detail";
      // The browser's own "Stop sharing" button ends the track.
      video?.addEventListener("ended", () => this.stopScreenShare());
      this.screen.value = stream;
      return true;
    } catch (err) {
      this.#notice("screen", describeMediaError("screen", err));
      return false;
    }
  }

  stopScreenShare(): void {
    this.screen.value?.getTracks().forEach((t) => t.stop());
    this.screen.value = null;
  }

  /** Whether a screen can be shared in this browser at all. */
  get canShareScreen(): boolean {
    return typeof navigator !== "undefined" && !!navigator.mediaDevices?.getDisplayMedia;
  }

  /** A level reader for the microphone (null without one); close it when done. */
  meter(): { read(): number; close(): void } | null {
    const track = this.audio.value;
    return track ? audioLevel(track) : null;
  }

  /** Stops every device, and stops watching for devices and permissions. */
  stop(): void {
    this.#stopped = true;
    for (const t of this.stream.getTracks()) t.stop();
    this.stopScreenShare();
    this.#stopFollowing?.();
    this.#stops.splice(0).forEach((stop) => stop());
  }

  #serial<T>(kind: "audio" | "video", task: () => Promise<T>): Promise<T> {
    const run = this.#queues[kind].then(task);
    this.#queues[kind] = run.catch(() => {});
    return run;
  }

  #constraints(kind: "audio" | "video", device = this.#choice[kind]): MediaTrackConstraints {
    const base = kind === "audio" ? audioProcessing(this.#noiseSuppression) : VIDEO;
    return device ? { ...base, deviceId: { exact: device } } : base;
  }

  #inUse(kind: "audio" | "video"): string | undefined {
    return (kind === "audio" ? this.audio : this.video).peek()?.getSettings().deviceId;
  }

  #select(kind: "audio" | "video", deviceId: string | undefined): void {
    this.selected.value = { ...this.selected.peek(), [kind]: deviceId };
  }

  #put(track: MediaStreamTrack): void {
    const kind = track.kind as "audio" | "video";
    this.#remove(kind);
    this.stream.addTrack(track);
    batch(() => {
      this.#select(kind, track.getSettings().deviceId);
      this.#publish();
    });
  }

  #remove(kind: "audio" | "video"): void {
    for (const old of this.stream.getTracks()) {
      if (old.kind === kind) {
        old.stop();
        this.stream.removeTrack(old);
      }
    }
  }

  #publish(): void {
    batch(() => {
      this.audio.value = this.stream.getAudioTracks()[0] ?? null;
      this.video.value = this.stream.getVideoTracks()[0] ?? null;
      this.micOn.value = this.audio.value?.enabled ?? false;
    });
  }

  #notice(kind: MediaNotice["kind"], message: string): void {
    this.notices.value = [...this.notices.value.filter((n) => n.kind !== kind), { kind, message }];
  }

  #setAccess(kind: "audio" | "video", access: MediaAccess): void {
    if (this.access.peek()[kind] !== access) {
      this.access.value = { ...this.access.peek(), [kind]: access };
    }
  }

  /** A device opened: its notice goes, and a first permission brings the devices' names. */
  #granted(kind: "audio" | "video"): void {
    const first = this.access.peek()[kind] !== "granted";
    this.#setAccess(kind, "granted");
    this.notices.value = this.notices.value.filter((n) => n.kind !== kind);
    if (first && this.ready.peek()) void this.refreshDevices();
  }

  /**
   * Follows devices plugged in or out, and permissions changed in the site's settings: a device
   * unblocked there is no longer said to be blocked (asking again will tell).
   */
  #watchDevices(): void {
    const media = navigator.mediaDevices;
    if (this.#watching || this.#stopped || !media) return;
    this.#watching = true;
    const refresh = () => void this.refreshDevices();
    media.addEventListener("devicechange", refresh);
    this.#stops.push(() => media.removeEventListener("devicechange", refresh));
    for (const kind of ["audio", "video"] as const) {
      const name = (kind === "audio" ? "microphone" : "camera") as PermissionName;
      navigator.permissions?.query({ name }).then((status) => {
        if (this.#stopped) return;
        const onChange = () => {
          if (status.state === "denied") this.#setAccess(kind, "blocked");
          else if (this.access.peek()[kind] === "blocked") this.#setAccess(kind, "unknown");
          refresh();
        };
        status.addEventListener("change", onChange);
        this.#stops.push(() => status.removeEventListener("change", onChange));
      }, () => {}); // a browser that cannot query these names: asking again will tell
    }
  }

  /**
   * Turns a device on (a new track) or off (the track stops). Returns the new track or null; on
   * failure, records a notice and returns null, and the track in use stays. `enabled: false`
   * opens it muted (no unmuted moment on the links); `device` overrides the chosen device.
   */
  async #setTrack(
    kind: "audio" | "video",
    on: boolean,
    opts: { enabled?: boolean; device?: string } = {},
  ): Promise<MediaStreamTrack | null> {
    if (!on) {
      this.#remove(kind);
      this.#publish();
      return null;
    }
    try {
      const s = await navigator.mediaDevices.getUserMedia({
        [kind]: this.#constraints(kind, opts.device),
      });
      const track = s.getTracks()[0];
      if (opts.enabled === false) track.enabled = false;
      this.#put(track);
      this.#granted(kind);
      return track;
    } catch (err) {
      this.#setAccess(kind, accessOf(err));
      this.#notice(kind, describeMediaError(kind, err));
      return null;
    }
  }
}

/** Microphones, cameras and speakers; labels are empty until permission was granted once. */
async function listDevices(): Promise<MediaDeviceInfo[]> {
  if (!navigator.mediaDevices?.enumerateDevices) return [];
  try {
    const all = await navigator.mediaDevices.enumerateDevices();
    return all.filter((d) =>
      d.kind === "audioinput" || d.kind === "videoinput" || d.kind === "audiooutput"
    );
  } catch {
    return [];
  }
}

/**
 * A 0..1 level of an audio track, for the pre-join meter and the local speaking highlight.
 * Returns a reader and a function that releases the audio graph.
 */
function audioLevel(track: MediaStreamTrack): { read(): number; close(): void } {
  const context = new AudioContext();
  const source = context.createMediaStreamSource(new MediaStream([track]));
  const analyser = context.createAnalyser();
  analyser.fftSize = 512;
  source.connect(analyser);
  const data = new Float32Array(analyser.fftSize);
  return {
    read() {
      analyser.getFloatTimeDomainData(data);
      let sum = 0;
      for (const v of data) sum += v * v;
      // RMS of speech is around 0.05-0.2; scale so normal speech fills most of the meter.
      return Math.min(1, Math.sqrt(sum / data.length) * 4);
    },
    close() {
      source.disconnect();
      void context.close();
    },
  };
}
