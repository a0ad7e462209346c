/**
 * The features of the meeting, in control-bar order. A feature is a folder under features/ with
 * an engine part (mesh/feature.ts) and a UI part (components/meeting/slots.ts); adding one is one
 * line here. README "Writing a feature" walks through reactions.
 */
import type { FeatureModule } from "../components/meeting/slots.ts";
import board from "./board/mod.tsx";
import chat from "./chat/mod.ts";
import files from "./files/mod.tsx";
import hand from "./hand/mod.tsx";
import host from "./host/mod.tsx";
import reactions from "./reactions/mod.tsx";
import recording from "./recording/mod.tsx";

export const FEATURES: readonly FeatureModule[] = [
  hand,
  reactions,
  board,
  chat,
  files,
  host,
  recording,
];
