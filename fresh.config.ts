import presetTailwind from "@twind/preset-tailwind";
import { defineConfig } from "$fresh/server.ts";

export default defineConfig({
  twind: {
    presets: [presetTailwind()],
    theme: {
      extend: {
        // Tailwind 3.3's darkest shades; twind's preset predates them.
        colors: { slate: { 950: "#020617" }, indigo: { 950: "#1e1b4b" } },
        fontFamily: {
          sans: [
            "Inter",
            "ui-sans-serif",
            "system-ui",
            "-apple-system",
            "Segoe UI",
            "Roboto",
            "sans-serif",
          ],
          // Colour emoji first: Linux's default sans (DejaVu) draws some emoji in outline.
          emoji: ["Apple Color Emoji", "Segoe UI Emoji", "Noto Color Emoji", "sans-serif"],
        },
      },
    },
  },
  build: { target: ["chrome109", "firefox115", "safari16"] },
});
