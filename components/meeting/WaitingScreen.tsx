import type { MeetingCore } from "../../mesh/meeting.ts";
import { Icon } from "./icons.tsx";

/**
 * Phase `waiting`: the meeting has a lobby, and a host decides who comes in. The page stays here
 * until a host admits (the meeting screen follows by itself) or turns the person away (the end
 * screen says so); Leave withdraws the request.
 */
export function WaitingScreen({ meeting, name }: { meeting: MeetingCore; name: string }) {
  return (
    <section class="flex flex-1 flex-col items-center justify-center px-4 py-16 text-center">
      <div class="w-full max-w-md rounded-2xl bg-slate-900 p-8 ring-1 ring-slate-800">
        <span class="mx-auto flex h-14 w-14 items-center justify-center rounded-full bg-indigo-950 text-indigo-200 ring-1 ring-indigo-800">
          <Icon name="hourglass" class="h-7 w-7" />
        </span>
        <h1 class="mt-4 text-2xl font-bold text-white">Waiting for a host to let you in</h1>
        <p role="status" class="mt-3 text-slate-200">
          {name
            ? (
              <>
                You asked to join as <strong class="text-white">{name}</strong>.
              </>
            )
            : (
              "You asked to join."
            )} A host of this meeting sees your name and decides.
        </p>
        <p class="mt-3 text-sm text-slate-400">
          Keep this page open: you join as soon as a host lets you in.
        </p>
        <div class="mt-6 flex justify-center">
          <button
            type="button"
            onClick={() => meeting.leave()}
            class="rounded-xl bg-slate-800 px-5 py-3 font-semibold text-slate-100 ring-1 ring-slate-700 hover:bg-slate-700 focus:outline-none focus-visible:ring-2 focus-visible:ring-slate-300"
          >
            Leave
          </button>
        </div>
      </div>
    </section>
  );
}
