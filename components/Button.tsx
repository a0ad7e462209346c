import type { ButtonHTMLAttributes } from "preact";

type Variant = "primary" | "secondary";

const BASE =
  "inline-flex items-center justify-center gap-2 rounded-xl px-5 py-3 text-base font-semibold transition-colors focus:outline-none focus-visible:ring-2 focus-visible:ring-offset-2 focus-visible:ring-offset-slate-950 disabled:cursor-not-allowed disabled:opacity-50";
const VARIANTS: Record<Variant, string> = {
  primary: "bg-indigo-600 text-white hover:bg-indigo-700 focus-visible:ring-indigo-300",
  secondary:
    "bg-slate-800 text-slate-100 ring-1 ring-slate-700 hover:bg-slate-700 focus-visible:ring-slate-300",
};

/** A styled button; renders the same on the server and in islands. */
export function Button(
  { variant = "primary", class: extra = "", type = "button", ...props }:
    & ButtonHTMLAttributes<HTMLButtonElement>
    & { variant?: Variant; class?: string },
) {
  return <button {...props} type={type} class={`${BASE} ${VARIANTS[variant]} ${extra}`} />;
}
