/**
 * The local camera, microphone and screen. Opens what it can and says plainly what it could not
 * (denied, missing, busy), so a meeting can go on without a camera or a microphone.
 */

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

export class LocalMedia {
  /** The camera+microphone stream sent to peers; its tracks change as devices turn on and off. */
  readonly stream = new MediaStream();
  notices: MediaNotice[] = [];
  #choice: DeviceChoice;

  constructor(choice: DeviceChoice = {}) {
    this.#choice = choice;
  }

  get audio(): MediaStreamTrack | null {
    return this.stream.getAudioTracks()[0] ?? null;
  }

  get video(): MediaStreamTrack | null {
    return this.stream.getVideoTracks()[0] ?? null;
  }

  /** Opens the microphone and/or camera; each may fail on its own, with a notice. */
  async open(want: { audio: boolean; video: boolean }): Promise<void> {
    this.notices = [];
    if (!navigator.mediaDevices?.getUserMedia) {
      if (want.audio || want.video) {
        this.notices.push({ kind: "video", message: describeMediaError("video", null) });
      }
      return;
    }
    // One request first, so the browser asks for permission once; then each alone on failure.
    if (want.audio && want.video) {
      try {
        const both = await navigator.mediaDevices.getUserMedia({
          audio: this.#constraints("audio"),
          video: this.#constraints("video"),
        });
        both.getTracks().forEach((t) => this.#put(t));
        return;
      } catch {
        // Fall through: find out which one failed.
      }
    }
    if (want.audio) await this.setTrack("audio", true);
    if (want.video) await this.setTrack("video", true);
  }

  #constraints(kind: "audio" | "video"): MediaTrackConstraints {
    const base = kind === "audio" ? AUDIO : VIDEO;
    const id = this.#choice[kind];
    return id ? { ...base, deviceId: { exact: id } } : base;
  }

  #put(track: MediaStreamTrack): void {
    for (const old of this.stream.getTracks()) {
      if (old.kind === track.kind) {
        old.stop();
        this.stream.removeTrack(old);
      }
    }
    this.stream.addTrack(track);
  }

  /**
   * Turns a device on (a new track) or off (the track stops, so the camera light goes out).
   * Returns the new track or null; on failure, records a notice and returns null.
   */
  async setTrack(kind: "audio" | "video", on: boolean): Promise<MediaStreamTrack | null> {
    if (!on) {
      for (
        const t of kind === "audio" ? this.stream.getAudioTracks() : this.stream.getVideoTracks()
      ) {
        t.stop();
        this.stream.removeTrack(t);
      }
      return null;
    }
    try {
      const s = await navigator.mediaDevices.getUserMedia({ [kind]: this.#constraints(kind) });
      const track = s.getTracks()[0];
      this.#put(track);
      this.notices = this.notices.filter((n) => n.kind !== kind);
      return track;
    } catch (err) {
      this.notices = [...this.notices.filter((n) => n.kind !== kind), {
        kind,
        message: describeMediaError(kind, err),
      }];
      return null;
    }
  }

  /** Switches to another device of the same kind; returns the new track, or null on failure. */
  async useDevice(kind: "audio" | "video", deviceId: string): Promise<MediaStreamTrack | null> {
    this.#choice = { ...this.#choice, [kind]: deviceId };
    const muted = kind === "audio" && this.audio !== null && !this.audio.enabled;
    const track = await this.setTrack(kind, true);
    if (track && muted) track.enabled = false;
    return track;
  }

  /** Cameras and microphones; labels are empty until permission was granted once. */
  static async devices(): Promise<MediaDeviceInfo[]> {
    if (!navigator.mediaDevices?.enumerateDevices) return [];
    const all = await navigator.mediaDevices.enumerateDevices();
    return all.filter((d) => d.kind === "audioinput" || d.kind === "videoinput");
  }

  /** Asks for a screen (with its audio when the browser offers it). Null when cancelled. */
  async shareScreen(): Promise<MediaStream | null> {
    try {
      if (!navigator.mediaDevices?.getDisplayMedia) {
        throw new DOMException("This browser cannot share the screen.", "NotSupportedError");
      }
      return await navigator.mediaDevices.getDisplayMedia({
        video: { frameRate: { ideal: 15, max: 30 } },
        audio: true,
      });
    } catch (err) {
      this.notices = [...this.notices, {
        kind: "screen",
        message: describeMediaError("screen", err),
      }];
      return null;
    }
  }

  stop(): void {
    for (const t of this.stream.getTracks()) t.stop();
  }
}

/**
 * A 0..1 level of an audio track, for the pre-join meter and the local speaking highlight.
 * Returns a reader and a function that releases the audio graph.
 */
export function audioLevel(track: MediaStreamTrack): { read(): number; close(): void } {
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
