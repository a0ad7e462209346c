/**
 * The local camera, microphone and screen. Opens what it can and says plainly what it could not
 * (denied, missing, busy), so a meeting can go on without a camera or a microphone.
 */
import { batch, signal } from "@preact/signals-core";

export interface MediaNotice {
  kind: "audio" | "video" | "screen";
  message: string;
}

export interface DeviceChoice {
  audio?: string;
  video?: string;
}

/** Ideal camera capture: 720p is what the bandwidth policy scales down from. */
const VIDEO: MediaTrackConstraints = {
  width: { ideal: 1280 },
  height: { ideal: 720 },
  frameRate: { ideal: 30, max: 30 },
};
const AUDIO: MediaTrackConstraints = {
  echoCancellation: true,
  noiseSuppression: true,
  autoGainControl: true,
};

/** Words for a getUserMedia/getDisplayMedia failure, with what to do about it. */
export function describeMediaError(kind: "audio" | "video" | "screen", err: unknown): string {
  const what = kind === "audio" ? "microphone" : kind === "video" ? "camera" : "screen sharing";
  const name = err instanceof DOMException ? err.name : "";
  switch (name) {
    case "NotAllowedError":
    case "SecurityError":
      return kind === "screen"
        ? "Screen sharing was cancelled or blocked."
        : `Access to the ${what} was denied. Allow it in the browser's address bar, then turn it on again.`;
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
 * the meeting core follows (it puts every new track on every link). Turning the camera off stops
 * the device, so its light goes out; muting keeps the microphone open (instant unmute, and the
 * level meter can tell someone they are talking while muted).
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
  readonly devices = signal<MediaDeviceInfo[]>([]);
  /** Whether `open` has finished (the pre-join screen waits for it). */
  readonly ready = signal(false);
  #choice: DeviceChoice;

  constructor(choice: DeviceChoice = {}) {
    this.#choice = choice;
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
    this.devices.value = await devices();
    this.ready.value = true;
  }

  async #openBoth(): Promise<boolean> {
    try {
      const both = await navigator.mediaDevices.getUserMedia({
        audio: this.#constraints("audio"),
        video: this.#constraints("video"),
      });
      both.getTracks().forEach((t) => this.#put(t));
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

  /** Switches to another device of the same kind; false on failure (with a notice). */
  async useDevice(kind: "audio" | "video", deviceId: string): Promise<boolean> {
    this.#choice = { ...this.#choice, [kind]: deviceId };
    const muted = kind === "audio" && !this.micOn.value;
    const track = await this.#setTrack(kind, true);
    if (track && muted) track.enabled = false;
    this.micOn.value = this.audio.value?.enabled ?? false;
    return track !== null;
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

  /** Stops every device. */
  stop(): void {
    for (const t of this.stream.getTracks()) t.stop();
    this.stopScreenShare();
  }

  #constraints(kind: "audio" | "video"): MediaTrackConstraints {
    const base = kind === "audio" ? AUDIO : VIDEO;
    const id = this.#choice[kind];
    return id ? { ...base, deviceId: { exact: id } } : base;
  }

  #put(track: MediaStreamTrack): void {
    this.#remove(track.kind as "audio" | "video");
    this.stream.addTrack(track);
    this.#publish();
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

  /**
   * Turns a device on (a new track) or off (the track stops). Returns the new track or null; on
   * failure, records a notice and returns null.
   */
  async #setTrack(kind: "audio" | "video", on: boolean): Promise<MediaStreamTrack | null> {
    if (!on) {
      this.#remove(kind);
      this.#publish();
      return null;
    }
    try {
      const s = await navigator.mediaDevices.getUserMedia({ [kind]: this.#constraints(kind) });
      const track = s.getTracks()[0];
      this.#put(track);
      this.notices.value = this.notices.value.filter((n) => n.kind !== kind);
      return track;
    } catch (err) {
      this.#notice(kind, describeMediaError(kind, err));
      return null;
    }
  }
}

/** Cameras and microphones; labels are empty until permission was granted once. */
async function devices(): Promise<MediaDeviceInfo[]> {
  if (!navigator.mediaDevices?.enumerateDevices) return [];
  const all = await navigator.mediaDevices.enumerateDevices();
  return all.filter((d) => d.kind === "audioinput" || d.kind === "videoinput");
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
