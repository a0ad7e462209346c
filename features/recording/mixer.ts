/**
 * The recording's one audio track: every participant's sound mixed with WebAudio, ours included.
 * Sources come and go (someone joins, leaves, shares a screen with sound, switches microphone)
 * while the output track stays the same one, so the recorder never sees a track change (which
 * would stop it).
 *
 * @example
 * ```ts
 * const mix = new AudioMix(context);
 * mix.sync([myMicrophone, ...remoteAudioTracks]); // again whenever they change
 * new MediaRecorder(new MediaStream([videoTrack, mix.track]));
 * ```
 */

interface Source {
  node: MediaStreamAudioSourceNode;
  analyser: AnalyserNode;
}

/** Mixes any number of audio tracks into one fixed track. */
export class AudioMix {
  /** The mixed track: the same one for the whole recording. */
  readonly track: MediaStreamTrack;
  readonly #context: AudioContext;
  readonly #bus: GainNode;
  readonly #out: MediaStreamAudioDestinationNode;
  readonly #sources = new Map<string, Source>();
  readonly #buffer = new Float32Array(512);

  constructor(context: AudioContext) {
    this.#context = context;
    this.#out = context.createMediaStreamDestination();
    // Several voices at full scale add up past 1: a limiter keeps peaks from clipping while
    // leaving a single voice as it is.
    const limiter = context.createDynamicsCompressor();
    limiter.threshold.value = -3;
    limiter.knee.value = 0;
    limiter.ratio.value = 20;
    limiter.attack.value = 0.003;
    limiter.release.value = 0.25;
    this.#bus = context.createGain();
    this.#bus.connect(limiter).connect(this.#out);
    this.track = this.#out.stream.getAudioTracks()[0];
  }

  /** Ids of the tracks mixed now. */
  get sources(): string[] {
    return [...this.#sources.keys()];
  }

  /** Mixes exactly `tracks` (live audio tracks) from now on: adds the new, drops the gone. */
  sync(tracks: readonly MediaStreamTrack[]): void {
    const wanted = new Map(
      tracks.filter((t) => t.kind === "audio" && t.readyState === "live").map((t) => [t.id, t]),
    );
    for (const [id, source] of this.#sources) {
      if (wanted.has(id)) continue;
      source.node.disconnect();
      this.#sources.delete(id);
    }
    for (const [id, track] of wanted) {
      if (this.#sources.has(id)) continue;
      const node = this.#context.createMediaStreamSource(new MediaStream([track]));
      const analyser = this.#context.createAnalyser();
      analyser.fftSize = this.#buffer.length;
      node.connect(this.#bus);
      node.connect(analyser);
      this.#sources.set(id, { node, analyser });
    }
  }

  /** The level (0..1, RMS scaled as the meeting's meters) of a mixed track, 0 if not mixed. */
  level(trackId: string): number {
    const source = this.#sources.get(trackId);
    if (!source) return 0;
    source.analyser.getFloatTimeDomainData(this.#buffer);
    let sum = 0;
    for (const v of this.#buffer) sum += v * v;
    return Math.min(1, Math.sqrt(sum / this.#buffer.length) * 4);
  }

  /** Stops mixing; the track ends. */
  close(): void {
    this.sync([]);
    this.#bus.disconnect();
    this.track.stop();
  }
}
