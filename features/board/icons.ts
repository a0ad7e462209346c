/** The whiteboard's icons: 24×24 paths drawn in currentColor. */

export const TOOL_ICONS = {
  select: "M5 3l14 8.2-6.3 1.4 3.8 6.6-2.6 1.5-3.8-6.6L5 18.6z",
  hand:
    "M12 2a1.5 1.5 0 0 1 1.5 1.5V10h1V4.5a1.5 1.5 0 0 1 3 0V11h1V7.5a1.5 1.5 0 0 1 3 0V15a7 7 0 0 1-13.3 3L5 13.6a1.5 1.5 0 0 1 2.6-1.5L9.5 15V3.5A1.5 1.5 0 0 1 12 2z",
  pen:
    "M3 17.2V21h3.8L17.8 9.9l-3.7-3.7zM20.7 7a1 1 0 0 0 0-1.4l-2.3-2.3a1 1 0 0 0-1.4 0l-1.8 1.8 3.7 3.7z",
  highlighter:
    "M15.2 2.6 21.4 8.8 12 18.2l-1.4-.1-1.8 1.8H3.8l3.4-3.4-.1-1.5zM9.5 14.3l.6.6 8.4-8.4-1.2-1.2-8.4 8.4zM2 22h20v-1.5H2z",
  line: "M4.4 21 3 19.6 19.6 3 21 4.4z",
  rect: "M3 5h18v14H3zm2 2v10h14V7z",
  ellipse:
    "M12 4c5.5 0 10 3.6 10 8s-4.5 8-10 8S2 16.4 2 12s4.5-8 10-8zm0 2c-4.4 0-8 2.7-8 6s3.6 6 8 6 8-2.7 8-6-3.6-6-8-6z",
  text: "M5 4h14v3h-2V6h-4v12h2v2H9v-2h2V6H7v1H5z",
  eraser:
    "M15.1 3.6a2 2 0 0 1 2.8 0l3.5 3.5a2 2 0 0 1 0 2.8L12.3 19H20v2H7.8l-4.2-4.2a2 2 0 0 1 0-2.8zM9.5 10.4l-4.5 4.5 3.7 3.7h2.8l2.5-2.5z",
} as const;

export const UNDO_ICON =
  "M12.5 8c-2.6 0-5 1-6.9 2.6L2 7v9h9l-3.6-3.6a7.5 7.5 0 0 1 12.1 3.4l2.4-.8A10 10 0 0 0 12.5 8z";
export const REDO_ICON =
  "M11.5 8c2.6 0 5 1 6.9 2.6L22 7v9h-9l3.6-3.6a7.5 7.5 0 0 0-12.1 3.4L2.1 15A10 10 0 0 1 11.5 8z";
export const ZOOM_IN_ICON =
  "M10 3a7 7 0 0 1 5.6 11.2l5.1 5.1-1.4 1.4-5.1-5.1A7 7 0 1 1 10 3zm0 2a5 5 0 1 0 0 10 5 5 0 0 0 0-10zm-1 2h2v2h2v2h-2v2H9v-2H7V9h2z";
export const ZOOM_OUT_ICON =
  "M10 3a7 7 0 0 1 5.6 11.2l5.1 5.1-1.4 1.4-5.1-5.1A7 7 0 1 1 10 3zm0 2a5 5 0 1 0 0 10 5 5 0 0 0 0-10zM7 9h6v2H7z";
export const CLEAR_ICON = "M9 3h6l1 2h4v2H4V5h4zM6 8h12l-1 13H7zm3 2v9h2v-9zm4 0v9h2v-9z";
export const DOWNLOAD_ICON =
  "M11 3h2v9.2l3.3-3.3 1.4 1.4-5.7 5.7-5.7-5.7 1.4-1.4 3.3 3.3zM4 19h16v2H4z";
