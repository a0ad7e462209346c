/**
 * Real tools for checking recorded files: Debian's ffmpeg and ffprobe (installed with apt-get
 * when missing and we are root, as tests/coturn.ts installs coturn), and the sound tests need:
 * tones as WAV files for Chromium's fake microphone, and how strong a tone is in decoded audio.
 *
 * @example
 * ```ts
 * await writeToneWav("/tmp/a.wav", 440);   // chromium --use-file-for-fake-audio-capture=/tmp/a.wav
 * const info = await probe("recording.mp4"); // duration, streams
 * const pcm = await decodeAudio("recording.mp4", 16_000);
 * toneLevel(pcm.subarray(0, 8000), 16_000, 440); // about 1 while the tone sounds, ~0 otherwise
 * ```
 */
import { isFile, run } from "./chromium.ts";

const CANDIDATES = ["/usr/bin/ffprobe", "/usr/local/bin/ffprobe"];

async function findInPath(name: "ffprobe" | "ffmpeg"): Promise<string | undefined> {
  const dirs = (Deno.env.get("PATH") ?? "").split(":").filter(Boolean);
  const paths = [
    ...CANDIDATES.map((c) => c.replace("ffprobe", name)),
    ...dirs.map((d) => `${d}/${name}`),
  ];
  for (const path of paths) if (await isFile(path)) return path;
}

/** ffmpeg and ffprobe; installs Debian's ffmpeg package as root when they are missing. */
export async function findFfmpeg(): Promise<{ ffmpeg: string; ffprobe: string }> {
  let ffmpeg = await findInPath("ffmpeg"), ffprobe = await findInPath("ffprobe");
  if (ffmpeg && ffprobe) return { ffmpeg, ffprobe };
  if (Deno.uid() === 0) {
    console.log("ffmpeg is missing: installing Debian's ffmpeg package (apt-get)...");
    const install = ["install", "-y", "-qq", "--no-install-recommends", "ffmpeg"];
    // A fresh machine may have no package lists yet: update only when the first try fails.
    const ok = await run("apt-get", install) ||
      (await run("apt-get", ["update", "-qq"]) && await run("apt-get", install));
    ffmpeg = ok ? await findInPath("ffmpeg") : undefined;
    ffprobe = ok ? await findInPath("ffprobe") : undefined;
    if (ffmpeg && ffprobe) return { ffmpeg, ffprobe };
    throw new Error("Installing ffmpeg with apt-get failed; see the output above.");
  }
  throw new Error(
    "The recording tests need ffmpeg and ffprobe. Install them (Debian/Ubuntu: " +
      "`sudo apt-get install ffmpeg`) and run the tests again.",
  );
}

async function output(cmd: string, args: string[]): Promise<Uint8Array> {
  const out = await new Deno.Command(cmd, { args, stdin: "null", stdout: "piped", stderr: "piped" })
    .output();
  if (!out.success) {
    throw new Error(`${cmd} ${args.join(" ")} failed:\n${new TextDecoder().decode(out.stderr)}`);
  }
  return out.stdout;
}

/** What ffprobe says about a file. */
export interface Probe {
  format: { format_name: string; duration: string; size: string };
  streams: {
    codec_type: string;
    codec_name: string;
    duration?: string;
    width?: number;
    height?: number;
    nb_frames?: string;
  }[];
}

/** `ffprobe -show_format -show_streams` of `path`. */
export async function probe(path: string): Promise<Probe> {
  const { ffprobe } = await findFfmpeg();
  const json = await output(ffprobe, [
    "-v",
    "error",
    "-show_format",
    "-show_streams",
    "-of",
    "json",
    path,
  ]);
  return JSON.parse(new TextDecoder().decode(json));
}

/**
 * Decodes every stream of `path` with ffmpeg: `errors` are what it reported ("" for none), and
 * `repeatedTimestamps` how many packets had the same time as the one before (which ffmpeg reports
 * as an error too, but which only shifts one packet: Chromium's recorder stamps sound with the
 * capture clock, and now and then gives two packets one time).
 */
export async function decode(
  path: string,
): Promise<{ errors: string; repeatedTimestamps: number }> {
  const { ffmpeg } = await findFfmpeg();
  const out = await new Deno.Command(ffmpeg, {
    // Frames keep their own times (the picture's rate varies a little): decode, don't resample.
    args: [
      "-v",
      "error",
      "-i",
      path,
      "-fps_mode",
      "passthrough",
      "-enc_time_base",
      "-1",
      "-f",
      "null",
      "-",
    ],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).output();
  const lines = new TextDecoder().decode(out.stderr).split("\n").filter((l) => l.trim());
  const repeated = lines.filter((l) => /non monotonically increasing dts/.test(l));
  const errors = lines.filter((l) => !repeated.includes(l)).join("\n");
  return {
    errors: out.success ? errors : errors || `ffmpeg exited with ${out.code}`,
    repeatedTimestamps: repeated.length,
  };
}

/** The audio of `path` as mono 32-bit float samples at `rate` Hz. */
export async function decodeAudio(path: string, rate: number): Promise<Float32Array> {
  const { ffmpeg } = await findFfmpeg();
  const raw = await output(ffmpeg, [
    "-v",
    "error",
    "-i",
    path,
    "-vn",
    "-ac",
    "1",
    "-ar",
    String(rate),
    "-f",
    "f32le",
    "-",
  ]);
  return new Float32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4);
}

/**
 * One video frame of `path` at `seconds`, scaled to `width`×`height`, as RGB bytes. Uses an
 * input seek (`-ss` before `-i`), which works only where the file is seekable.
 */
export async function frameAt(
  path: string,
  seconds: number,
  width: number,
  height: number,
): Promise<Uint8Array> {
  const { ffmpeg } = await findFfmpeg();
  return await output(ffmpeg, [
    "-v",
    "error",
    "-ss",
    seconds.toFixed(3),
    "-i",
    path,
    "-frames:v",
    "1",
    "-vf",
    `scale=${width}:${height}`,
    "-f",
    "rawvideo",
    "-pix_fmt",
    "rgb24",
    "-",
  ]);
}

/**
 * A sine tone of `frequency` Hz as a 16-bit mono WAV (48 kHz, `seconds` long, a whole number of
 * periods so that Chromium's looping of the file makes no click).
 */
export async function writeToneWav(
  path: string,
  frequency: number,
  seconds = 2,
  amplitude = 0.3,
): Promise<void> {
  const rate = 48_000;
  const samples = rate * seconds;
  const data = new Int16Array(samples);
  for (let i = 0; i < samples; i++) {
    data[i] = Math.round(Math.sin(2 * Math.PI * frequency * i / rate) * amplitude * 32767);
  }
  const header = new DataView(new ArrayBuffer(44));
  const ascii = (at: number, text: string) =>
    [...text].forEach((c, i) => header.setUint8(at + i, c.charCodeAt(0)));
  ascii(0, "RIFF");
  header.setUint32(4, 36 + data.byteLength, true);
  ascii(8, "WAVE");
  ascii(12, "fmt ");
  header.setUint32(16, 16, true);
  header.setUint16(20, 1, true); // PCM
  header.setUint16(22, 1, true); // mono
  header.setUint32(24, rate, true);
  header.setUint32(28, rate * 2, true);
  header.setUint16(32, 2, true);
  header.setUint16(34, 16, true);
  ascii(36, "data");
  header.setUint32(40, data.byteLength, true);
  const file = new Uint8Array(44 + data.byteLength);
  file.set(new Uint8Array(header.buffer), 0);
  file.set(new Uint8Array(data.buffer), 44);
  await Deno.writeFile(path, file);
}

/**
 * The amplitude of `frequency` in `samples` (Goertzel with a Hann window, so that a strong tone
 * nearby does not leak into it), in dB of full scale: a sine of amplitude 1 gives 0 dB, one of
 * 0.1 gives -20 dB, silence or other tones far less.
 */
export function toneLevel(samples: Float32Array, rate: number, frequency: number): number {
  const w = 2 * Math.PI * frequency / rate;
  const coeff = 2 * Math.cos(w);
  let s1 = 0, s2 = 0, gain = 0;
  for (let i = 0; i < samples.length; i++) {
    const hann = 0.5 - 0.5 * Math.cos(2 * Math.PI * i / (samples.length - 1));
    gain += hann;
    const s = samples[i] * hann + coeff * s1 - s2;
    s2 = s1;
    s1 = s;
  }
  const magnitude = Math.sqrt(Math.max(0, s1 * s1 + s2 * s2 - coeff * s1 * s2));
  return 20 * Math.log10(2 * magnitude / gain + 1e-9);
}
