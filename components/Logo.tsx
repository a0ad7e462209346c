/** The Mooz word mark; decorative glyph plus the name, linking home. */
export function Logo() {
  return (
    <a
      href="/"
      class="inline-flex items-center gap-2 rounded-lg text-lg font-semibold tracking-tight text-white focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-400"
    >
      <svg aria-hidden="true" viewBox="0 0 32 32" class="h-8 w-8">
        <rect width="32" height="32" rx="9" fill="#6366f1" />
        <circle cx="11" cy="16" r="5" fill="#fff" />
        <circle cx="21" cy="16" r="5" fill="#c7d2fe" />
      </svg>
      Mooz
    </a>
  );
}
