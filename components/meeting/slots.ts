/**
 * A feature's UI part: the places in the meeting screen where it may show itself. The meeting
 * layout renders every registered feature's slots, so adding a feature never edits the layout or
 * the control bar. Each slot receives the `MeetingCore` and reads its own feature's instance with
 * `meeting.feature(definition)`.
 *
 * @example A control-bar button with a shortcut and a badge on every tile
 * ```tsx
 * export default featureModule(claps, {
 *   controls: [{
 *     id: "clap", label: "Clap", icon: CLAP_PATH, shortcut: "K",
 *     onPress: (meeting) => meeting.feature(claps).clap(),
 *   }],
 *   TileBadge: ({ meeting, peer }) => <span>{meeting.feature(claps).count.value}</span>,
 * });
 * ```
 */
import type { FunctionComponent } from "preact";
import type { FeatureDefinition } from "../../mesh/feature.ts";
import type { MeetingCore } from "../../mesh/meeting.ts";
import type { PeerId } from "../../mesh/types.ts";

/** A button in the control bar. */
export interface ControlSlot {
  /** Unique among the bar's buttons; used in element ids. */
  id: string;
  /** Accessible name (also the tooltip). */
  label: string;
  /** SVG path data of a 24×24 icon drawn in currentColor. */
  icon: string | ((meeting: MeetingCore) => string);
  /** A single key that presses it (people can turn single-key shortcuts off). */
  shortcut?: string;
  /** For toggles: whether it is on (`aria-pressed`). */
  pressed?(meeting: MeetingCore): boolean;
  /** For buttons that open something: `aria-expanded` and the id of what they open. */
  expanded?(meeting: MeetingCore): boolean;
  /** Whether it can be pressed now. */
  disabled?(meeting: MeetingCore): boolean;
  /** What pressing it does (a button with a `Popup` opens and closes the popup instead). */
  onPress?(meeting: MeetingCore): void;
  /**
   * A small popup the button opens over the control bar (a picker); the core gives the button
   * `aria-expanded`, puts it in the phone's "More options" menu like any other, closes the popup
   * on Esc and returns focus to the button (or "More options"). Focus its first control on mount.
   */
  Popup?: FunctionComponent<{ meeting: MeetingCore; close(): void }>;
}

/**
 * A side panel with its own button in the control bar (only one panel is open at a time). Wrap
 * its content in `SidePanel` (SidePanel.tsx) for the frame, title and close button every panel
 * has.
 */
export interface PanelSlot {
  id: string;
  /** Accessible name of the panel and of its button. */
  label: string;
  icon: string;
  shortcut?: string;
  /** A count shown on the button (and said as "N unread", or as `badgeLabel` says), or 0. */
  badge?(meeting: MeetingCore): number;
  /** What the badge counts, for screen readers: "N <badgeLabel>" (default "unread"). */
  badgeLabel?: string;
  /**
   * Whether the panel and its button are offered now (default: always). A panel that stops
   * being visible while open closes (a host panel after the role was handed over).
   */
  visible?(meeting: MeetingCore): boolean;
  Panel: FunctionComponent<{ meeting: MeetingCore; close(): void }>;
}

/** Something drawn on a participant's camera tile; `peer` is null for our own tile. */
export type TileSlot = FunctionComponent<{ meeting: MeetingCore; peer: PeerId | null }>;

/**
 * Actions on one participant, at the end of their row in the participants panel (a menu
 * button); `peer` is null for our own row. Render nothing when there is nothing to offer.
 */
export type PersonSlot = FunctionComponent<{ meeting: MeetingCore; peer: PeerId | null }>;

/** Every slot a feature may fill; all optional. */
export interface FeatureUI {
  /** Buttons in the control bar. */
  controls?: ControlSlot[];
  /** A side panel. */
  panel?: PanelSlot;
  /** Small indicators next to a participant's name, on tiles and in the participants list. */
  TileBadge?: TileSlot;
  /** A layer over a participant's tile (it must not take pointer events). */
  TileOverlay?: TileSlot;
  /** A control-bar item richer than a button (a menu, a picker). */
  Control?: FunctionComponent<{ meeting: MeetingCore }>;
  /** Actions on a participant, in their row of the participants panel. */
  PersonActions?: PersonSlot;
  /**
   * People the participants panel lists first, in this order (raised hands, earliest first);
   * our own peer id stands for our row.
   */
  rank?(meeting: MeetingCore): readonly PeerId[];
  /**
   * Drawn nowhere, mounted while the meeting screen shows: reacts to the feature's events with
   * toasts (`meeting.notify`) and sounds (sounds.ts `playSound`).
   */
  Alerts?: FunctionComponent<{ meeting: MeetingCore }>;
  /**
   * A notice across the meeting screen, above the tiles, on every page while the feature says
   * so ("Ada is recording this meeting"); nobody can dismiss it, so keep it to what everyone
   * must know. Render an empty live region (or null) when there is nothing to say.
   *
   * @example
   * ```tsx
   * Banner: ({ meeting }) => (
   *   <div role="status" aria-label="Claps">
   *     {meeting.feature(claps).count.value > 100 && <p>The room is on fire.</p>}
   *   </div>
   * ),
   * ```
   */
  Banner?: FunctionComponent<{ meeting: MeetingCore }>;
  /**
   * A large surface of the feature's own (a whiteboard), mounted while the meeting screen shows
   * and drawing nothing until the feature opens it. Give its root `SURFACE_CLASS`: on a wide
   * screen it takes most of the row the tiles are in (the tiles, narrower, and any side panel
   * stay in view); on a phone it covers the screen, so it needs a close button of its own. Open
   * it from a control (`expanded` says whether it is open), and load its heavy code with
   * `import()` when it first opens, so that the meeting screen does not carry it.
   *
   * @example
   * ```tsx
   * Surface: ({ meeting }) =>
   *   meeting.feature(board).open.value
   *     ? <section aria-label="Whiteboard" class={SURFACE_CLASS}>…</section>
   *     : null,
   * ```
   */
  Surface?: FunctionComponent<{ meeting: MeetingCore }>;
}

/** The frame of a feature's `Surface` (see there); whole literal classes, for the build's CSS. */
export const SURFACE_CLASS =
  "fixed inset-0 z-40 flex min-h-0 flex-col bg-slate-950 p-2 sm:static sm:z-auto sm:order-first sm:min-w-0 sm:flex-[3] sm:p-0";

/** A feature as the app registers it: its engine part and its UI part. */
export interface FeatureModule {
  readonly definition: FeatureDefinition<unknown>;
  readonly ui: FeatureUI;
}

/** Pairs a feature's engine part with its UI part. */
export function featureModule<E>(definition: FeatureDefinition<E>, ui: FeatureUI): FeatureModule {
  return { definition, ui };
}
