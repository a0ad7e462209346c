/**
 * Video bitrate policy for a full mesh.
 *
 * In a mesh every peer gets its own encoded copy of our camera (and screen), so the uplink carries
 * one stream per peer. Each link runs its own congestion control, but the links do not know about
 * each other: left alone, five of them each ramping to a 720p bitrate fight over one uplink, the
 * queue grows and audio, which shares it, suffers first. So we cap every sender (`maxBitrate` is
 * a ceiling; the link's own congestion control can always go lower) so that the caps together fit
 * an uplink budget, and pick the resolution and frame rate that each cap can carry well.
 *
 * The uplink budget:
 * - Unknown (no link has an estimate yet): 2.5 Mbit/s, what a typical home or 4G uplink sustains.
 * - Known: the median per-link `availableOutgoingBitrate` times the number of peers. When our
 *   uplink is the bottleneck, the links' estimates converge to about a fair share each, so
 *   share × peers approximates the uplink. The median rather than the minimum because a single
 *   peer with a poor downlink lowers only its own link's estimate, and that link's congestion
 *   control already holds its encoder below the cap; with the minimum it would drag down the video
 *   everyone else receives. The median also ignores one link's transient overshoot. This also
 *   closes the loop: Chromium keeps an estimate within about 1.5× of what the link actually sends
 *   (plus probes), so while the uplink has room the estimates sit above our caps and the budget
 *   grows at each re-plan, and when it congests every link's estimate drops together.
 *
 * Of the budget, 80% goes to media: the rest is headroom for RTCP, the data channel, estimation
 * error and keyframe bursts. Audio (Opus, ~40 kbit/s per peer with overhead) is taken from that
 * 80% first, because it matters most; video gets the remainder, split evenly across peers.
 *
 * Camera: the per-peer bitrate picks the resolution (scaled down from a 720p capture) and frame
 * rate; below ~150 kbit/s more pixels only mean more blur, so fewer and slower frames. 100 kbit/s
 * is the floor: below it video is not worth sending, and the link's congestion control can still
 * go lower, so the floor (not the budget) wins when the two disagree.
 *
 * Screen share: shared text needs full resolution far more than motion, so the screen keeps its
 * full resolution, gets most of the per-peer bitrate and trades frame rate instead (5-15 fps),
 * while the camera drops to a thumbnail. The sender should also set `contentHint = "detail"` on the
 * screen track so the encoder keeps resolution under pressure.
 *
 * Call again whenever peers join or leave, and every few seconds as estimates change.
 */

export interface BandwidthInput {
  /** Other participants we send video to. */
  peers: number;
  /** Per-link uplink estimates (availableOutgoingBitrate, bits/s) where known. */
  estimates: (number | null)[];
  /** Whether we are sharing a screen (the screen gets priority over the camera). */
  sharing: boolean;
}

/** The fields of `RTCRtpEncodingParameters` this policy sets, so it can be spread into one. */
export interface VideoEncoding {
  maxBitrate: number;
  scaleResolutionDownBy: number;
  maxFramerate: number;
}

export interface BandwidthPlan {
  camera: VideoEncoding;
  screen: VideoEncoding | null;
  /** What the plan sends at most over all links: video caps plus the audio allowance, bits/s. */
  totalBitrate: number;
  /** The uplink budget the plan was made for, bits/s (see above). */
  uplink: number;
}

export const DEFAULT_UPLINK = 2_500_000;
export const MEDIA_SHARE = 0.8;
export const AUDIO_PER_PEER = 40_000;
export const CAMERA_FLOOR = 100_000;
/** 720p30 gains little past this; a mesh has better uses for the bits. */
export const CAMERA_MAX = 1_500_000;
/** The camera beside a screen share: a small moving face. */
export const THUMBNAIL_MAX = 150_000;
export const SCREEN_FLOOR = 150_000;
/** 1080p text at 15 fps is sharp with this. */
export const SCREEN_MAX = 2_500_000;

/** [minimum per-peer bitrate, scaleResolutionDownBy, maxFramerate], best first. */
const CAMERA_TIERS: readonly (readonly [number, number, number])[] = [
  [1_200_000, 1, 30], // 720p
  [600_000, 1.5, 30], // 480p
  [300_000, 2, 30], // 360p
  [150_000, 4, 15], // 180p
  [0, 4, 10],
];

function camera(bitrate: number): VideoEncoding {
  const maxBitrate = Math.floor(Math.min(CAMERA_MAX, Math.max(CAMERA_FLOOR, bitrate)));
  const [, scaleResolutionDownBy, maxFramerate] = CAMERA_TIERS.find(([min]) => maxBitrate >= min)!;
  return { maxBitrate, scaleResolutionDownBy, maxFramerate };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** The uplink budget, bits/s: see the comment at the top. */
export function uplinkBudget(peers: number, estimates: (number | null)[]): number {
  const known = estimates.filter((e): e is number =>
    typeof e === "number" && Number.isFinite(e) && e > 0
  );
  return known.length === 0 ? DEFAULT_UPLINK : median(known) * Math.max(1, peers);
}

export function planBandwidth(input: BandwidthInput): BandwidthPlan {
  const peers = Math.max(0, Math.floor(input.peers));
  const uplink = uplinkBudget(peers, input.estimates);
  // With nobody to send to, plan for one peer so the encodings are ready when someone joins.
  const share = Math.max(1, peers);
  // Whole bits/s (`maxBitrate` is an integer), rounded down so the caps never sum past the budget.
  const perPeer = Math.floor((uplink * MEDIA_SHARE) / share) - AUDIO_PER_PEER;

  let plan: { camera: VideoEncoding; screen: VideoEncoding | null };
  if (!input.sharing) {
    plan = { camera: camera(perPeer), screen: null };
  } else {
    // The thumbnail takes a quarter of the per-peer bitrate, within its floor and ceiling, which
    // puts it in the 180p tiers.
    const thumb = camera(Math.min(THUMBNAIL_MAX, perPeer / 4));
    const maxBitrate = Math.min(SCREEN_MAX, Math.max(SCREEN_FLOOR, perPeer - thumb.maxBitrate));
    plan = {
      camera: thumb,
      screen: {
        maxBitrate,
        scaleResolutionDownBy: 1,
        maxFramerate: maxBitrate >= 1_000_000 ? 15 : maxBitrate >= 400_000 ? 10 : 5,
      },
    };
  }
  const video = plan.camera.maxBitrate + (plan.screen?.maxBitrate ?? 0);
  return { ...plan, totalBitrate: peers * (video + AUDIO_PER_PEER), uplink };
}
