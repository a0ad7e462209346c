import type { ComponentChildren } from "preact";
import { Logo } from "./Logo.tsx";

/** Header, centred main column and footer shared by the app's pages. */
export function PageShell({ children }: { children: ComponentChildren }) {
  return (
    <div class="flex min-h-screen flex-col">
      <header class="mx-auto flex w-full max-w-5xl items-center justify-between px-4 py-4 sm:px-6">
        <Logo />
      </header>
      <main id="main" class="mx-auto flex w-full max-w-5xl flex-1 flex-col px-4 sm:px-6">
        {children}
      </main>
      <footer class="mx-auto w-full max-w-5xl px-4 py-6 text-sm text-slate-400 sm:px-6">
        Open source. Audio, video and chat go straight between browsers; the server only introduces
        them.
      </footer>
    </div>
  );
}
