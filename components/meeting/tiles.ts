/**
 * What the stage shows: one tile per camera and one per shared screen, built from the meeting's
 * state as plain data (`buildTiles`), which the stage lays out and the participants panel lists.
 *
 * @example In a component
 * ```tsx
 * const tiles = useTiles(meeting);
 * const people = tiles.filter((t) => t.kind === "camera");
 * ```
 */
import type { MeetingCore } from "../../mesh/meeting.ts";
import type { LinkQuality, LinkState, PeerId, RemotePeer } from "../../mesh/types.ts";
import { useMicLevel } from "./mic_level.ts";

/** One camera or screen as a tile shows it. */
export interface TileModel {
  /** Stable key: `${peer}:${kind}`. */
  key: string;
  peer: string;
  kind: "camera" | "screen";
  name: string;
  self: boolean;
  stream: MediaStream | null;
  videoOff: boolean;
  muted: boolean;
  link: LinkState | "self";
  online: boolean;
  /** False: this person's messages do not open with the meeting key ("Could not verify"). */
  verified: boolean;
  /** Our pair's safety code once connected (participants panel); null for us and before. */
  safetyCode: readonly { emoji: string; name: string }[] | null;
  quality: LinkQuality | null;
  speaking: boolean;
}

/** Audio level (0..1) above which a participant counts as speaking. */
export const SPEAKING = 0.04;

/** What the tiles are made of: our own media and presence, and the other participants. */
export interface TileSources {
  /** Our peer id once joined. */
  self: PeerId | null;
  /** Our name. */
  name: string;
  /** Our camera stream while the camera is on, else null. */
  camera: MediaStream | null;
  micOn: boolean;
  /** The screen we share, if any. */
  screen: MediaStream | null;
  /** Our microphone's level, 0..1 (0 while muted). */
  selfLevel: number;
  peers: readonly RemotePeer[];
}

/**
 * The tiles: ours first, then everyone in join order, each person's screen after their camera.
 * Only the loudest unmuted person above `SPEAKING` is speaking (us included), so the highlight
 * never lights up on several tiles at once.
 */
export function buildTiles(src: TileSources): TileModel[] {
  const loudest = src.peers.reduce<{ peer: string | null; level: number }>(
    (best, p) =>
      p.audioLevel > best.level && !p.audioMuted ? { peer: p.peer, level: p.audioLevel } : best,
    { peer: null, level: SPEAKING },
  );
  const ours: TileModel = {
    key: "self:camera",
    peer: src.self ?? "self",
    kind: "camera",
    name: src.name,
    self: true,
    stream: src.camera,
    videoOff: src.camera === null,
    muted: !src.micOn,
    link: "self",
    online: true,
    verified: true,
    safetyCode: null,
    quality: null,
    speaking: src.micOn && src.selfLevel > SPEAKING && src.selfLevel >= loudest.level,
  };
  const tiles = [ours];
  if (src.screen) {
    tiles.push({
      ...ours,
      key: "self:screen",
      kind: "screen",
      stream: src.screen,
      speaking: false,
    });
  }
  for (const p of src.peers) {
    const base = {
      peer: p.peer,
      name: p.name,
      self: false,
      muted: p.audioMuted,
      link: p.link,
      online: p.online,
      verified: p.verified,
      safetyCode: p.safetyCode,
      quality: p.quality,
    };
    tiles.push({
      ...base,
      key: `${p.peer}:camera`,
      kind: "camera",
      stream: p.camera,
      videoOff: p.videoOff || !p.camera?.getVideoTracks().length,
      speaking: loudest.peer === p.peer && !ours.speaking,
    });
    if (p.screen) {
      tiles.push({
        ...base,
        key: `${p.peer}:screen`,
        kind: "screen",
        stream: p.screen,
        videoOff: false,
        speaking: false,
      });
    }
  }
  return tiles;
}

/** The meeting's tiles, following its signals and our microphone's level. */
export function useTiles(meeting: MeetingCore): TileModel[] {
  const media = meeting.media;
  // Our own speaking highlight comes from the microphone itself (no stats for our own audio).
  const level = useMicLevel(media, 250);
  return buildTiles({
    self: meeting.self.value,
    name: meeting.local.value?.name ?? "",
    camera: media.video.value !== null ? media.stream : null,
    micOn: media.micOn.value,
    screen: media.screen.value,
    selfLevel: level.value,
    peers: meeting.peers.value,
  });
}

// Grapheme clusters where the browser can split them (an emoji or an accented letter is one);
// else code points, which keep most names whole.
const segmenter = typeof Intl !== "undefined" && "Segmenter" in Intl
  ? new Intl.Segmenter(undefined, { granularity: "grapheme" })
  : null;

function graphemes(text: string): string[] {
  return segmenter ? Array.from(segmenter.segment(text), (s) => s.segment) : Array.from(text);
}

const LETTER = /[\p{L}\p{N}]/u;

/**
 * The initials on a tile without video: the first letter of a one-word name ("Ada" → "A"), the
 * first letters of the first and last words of a longer one ("Ada King Lovelace" → "AL"), in any
 * script; words without letters (emoji) are skipped, and a name of only symbols shows its first
 * symbol. "?" for an empty name.
 */
export function initials(name: string): string {
  const words = name.trim().split(/\s+/).filter((w) => LETTER.test(w));
  if (words.length === 0) return graphemes(name.trim())[0] ?? "?";
  const picked = words.length > 1 ? [words[0], words[words.length - 1]] : words;
  return picked.map((w) => graphemes(w).find((g) => LETTER.test(g))!).join("")
    .toLocaleUpperCase();
}
