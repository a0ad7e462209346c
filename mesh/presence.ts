/**
 * What each participant tells the others about itself: name, microphone, camera, and which of
 * its streams is the camera and which the screen. The meeting core's tiles need it, so it is part
 * of the core, but it is written on the feature API like any feature: its messages are validated
 * by the host and bound to the sending link's peer.
 */
import { computed, effect, type ReadonlySignal, signal } from "@preact/signals-core";
import { checkName, isObject, isShortString } from "./checks.ts";
import { defineFeature, type FeatureDefinition } from "./feature.ts";
import type { LocalMedia } from "./local_media.ts";
import type { PeerId } from "./types.ts";

/** One participant's presence. */
export interface Presence {
  name: string;
  audioMuted: boolean;
  videoOff: boolean;
  /** `MediaStream.id` of its camera+microphone stream, as seen in our `ontrack`. */
  cameraStream: string | null;
  /** `MediaStream.id` of its screen share, or null when not sharing. */
  screenStream: string | null;
}

/** `MediaStream.id` is a UUID (36-38 characters) in every browser; 128 bounds abuse. */
export const MAX_STREAM_ID_LENGTH = 128;

/** The presence if `body` is one, else null; a fresh object with only the declared fields. */
export function parsePresence(body: unknown): Presence | null {
  if (!isObject(body)) return null;
  const name = checkName(body.name);
  const { audioMuted, videoOff, cameraStream, screenStream } = body;
  const streamOk = (s: unknown) => s === null || isShortString(s, MAX_STREAM_ID_LENGTH);
  if (
    name === null || typeof audioMuted !== "boolean" || typeof videoOff !== "boolean" ||
    !streamOk(cameraStream) || !streamOk(screenStream)
  ) return null;
  return {
    name,
    audioMuted,
    videoOff,
    cameraStream: cameraStream as string | null,
    screenStream: screenStream as string | null,
  };
}

/** The presence feature's instance: ours and everyone else's. */
export interface PresenceState {
  /** Ours, as the others see it. */
  readonly local: ReadonlySignal<Presence>;
  /** Everyone else's, by peer; missing until their first message. */
  readonly remote: ReadonlySignal<ReadonlyMap<PeerId, Presence>>;
}

/** What presence reads of the local media. */
export type PresenceMedia = Pick<LocalMedia, "micOn" | "video" | "screen"> & {
  readonly stream: { readonly id: string };
};

/** The presence feature of a meeting whose local media is `media`. */
export function presenceFeature(media: PresenceMedia): FeatureDefinition<PresenceState> {
  return defineFeature("presence", (ctx) => {
    const remote = signal<ReadonlyMap<PeerId, Presence>>(new Map());
    const local = computed<Presence>(() => ({
      name: ctx.selfName,
      audioMuted: !media.micOn.value,
      videoOff: !media.video.value,
      cameraStream: media.stream.id,
      screenStream: media.screen.value?.id ?? null,
    }));
    const topic = ctx.topic("state", { validate: parsePresence, maxBytes: 1024 });
    topic.onMessage((from, presence) => {
      remote.value = new Map(remote.value).set(from, presence);
    });
    // Everyone hears of every change; a new link hears the current state first.
    const stop = effect(() => void topic.send("all", local.value));
    ctx.on("ended", stop);
    ctx.on("link-open", (peer) => topic.send(peer, local.peek()));
    ctx.on("peer-left", (peer) => {
      const next = new Map(remote.value);
      if (next.delete(peer)) remote.value = next;
    });
    return { local, remote };
  });
}
