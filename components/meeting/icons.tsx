/** Inline icons (24x24, currentColor); decorative: the buttons carry the accessible names. */

const PATHS = {
  mic:
    "M12 14a3 3 0 0 0 3-3V5a3 3 0 1 0-6 0v6a3 3 0 0 0 3 3zm5-3a5 5 0 0 1-10 0H5a7 7 0 0 0 6 6.9V21h2v-3.1A7 7 0 0 0 19 11z",
  micOff:
    "M19 11a7 7 0 0 1-1.2 3.9l-1.5-1.5c.4-.7.7-1.5.7-2.4zm-4 .2L9 5.2V5a3 3 0 1 1 6 0zM4.3 3 3 4.3l6 6V11a3 3 0 0 0 4.2 2.8l1.6 1.6A5 5 0 0 1 7 11H5a7 7 0 0 0 6 6.9V21h2v-3.1a7 7 0 0 0 3.2-1.2l3.5 3.5 1.3-1.3z",
  cam: "M4 6a2 2 0 0 1 2-2h8a2 2 0 0 1 2 2v3.5l4-3v11l-4-3V18a2 2 0 0 1-2 2H6a2 2 0 0 1-2-2z",
  camOff:
    "M3.3 2 2 3.3 4.7 6H4v12a2 2 0 0 0 2 2h8c.4 0 .8-.1 1.1-.3l3.6 3.6 1.3-1.3zM20 6.5l-4 3V6a2 2 0 0 0-2-2H8.8L20 15.2z",
  screen:
    "M3 4h18a1 1 0 0 1 1 1v11a1 1 0 0 1-1 1h-7v2h3v2H7v-2h3v-2H3a1 1 0 0 1-1-1V5a1 1 0 0 1 1-1zm9 3-4 4h3v3h2v-3h3z",
  people:
    "M9 11a4 4 0 1 0 0-8 4 4 0 0 0 0 8zm8 0a3 3 0 1 0 0-6 3 3 0 0 0 0 6zM9 13c-4 0-7 2-7 4.5V20h14v-2.5C16 15 13 13 9 13zm8 0c-.6 0-1.2 0-1.7.2A5.5 5.5 0 0 1 18 17.5V20h4v-2.5c0-2.5-2.5-4.5-5-4.5z",
  link:
    "M10.6 13.4a4 4 0 0 0 5.7 0l3-3a4 4 0 0 0-5.7-5.7l-1.1 1.1 1.4 1.4 1.1-1.1a2 2 0 0 1 2.9 2.9l-3 3a2 2 0 0 1-2.9 0zm2.8-2.8a4 4 0 0 0-5.7 0l-3 3a4 4 0 0 0 5.7 5.7l1.1-1.1-1.4-1.4-1.1 1.1a2 2 0 0 1-2.9-2.9l3-3a2 2 0 0 1 2.9 0z",
  leave:
    "M12 9c-1.6 0-3.2.3-4.6.7v3.1c0 .4-.2.7-.6.9-1 .5-1.9 1.1-2.6 1.8a1 1 0 0 1-1.4 0L.3 13a1 1 0 0 1 0-1.4C3.3 8.7 7.5 7 12 7s8.7 1.7 11.7 4.6a1 1 0 0 1 0 1.4l-2.5 2.5a1 1 0 0 1-1.4 0 11 11 0 0 0-2.6-1.8.9.9 0 0 1-.6-.9V9.7A15 15 0 0 0 12 9z",
  pin: "M16 3v2l-1 1v5l3 3v2h-5v6h-2v-6H6v-2l3-3V6L8 5V3z",
  more:
    "M12 8a2 2 0 1 0 0-4 2 2 0 0 0 0 4zm0 6a2 2 0 1 0 0-4 2 2 0 0 0 0 4zm0 6a2 2 0 1 0 0-4 2 2 0 0 0 0 4z",
  hourglass:
    "M6 2h12v2h-1v3.6L13.4 12l3.6 4.4V20h1v2H6v-2h1v-3.6l3.6-4.4L7 7.6V4H6zm3 2v2.9l3 3.6 3-3.6V4z",
  close:
    "M6.4 5 5 6.4 10.6 12 5 17.6 6.4 19l5.6-5.6 5.6 5.6 1.4-1.4-5.6-5.6L19 6.4 17.6 5 12 10.6z",
} as const;

export type IconName = keyof typeof PATHS;

/** One of the core icons by `name`, or a feature's own by its 24×24 `path`. */
export function Icon(
  { name, path, class: cls = "h-5 w-5" }: { name?: IconName; path?: string; class?: string },
) {
  return (
    <svg aria-hidden="true" viewBox="0 0 24 24" class={cls} fill="currentColor">
      <path d={path ?? (name ? PATHS[name] : "")} />
    </svg>
  );
}
