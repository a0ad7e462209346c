import { useSignal } from "@preact/signals";
import type { ComponentChildren } from "preact";
import { ConfirmDialog } from "../../components/meeting/ConfirmDialog.tsx";
import { SidePanel } from "../../components/meeting/SidePanel.tsx";
import type { KnockEntry } from "../../mesh/feature.ts";
import type { MeetingCore } from "../../mesh/meeting.ts";
import { host } from "./host.ts";

const BUTTON =
  "rounded-lg px-3 py-1.5 text-sm font-semibold focus:outline-none focus-visible:ring-2 disabled:opacity-50";
const PRIMARY =
  `${BUTTON} bg-indigo-600 text-white hover:bg-indigo-700 focus-visible:ring-indigo-300`;
const SECONDARY =
  `${BUTTON} bg-slate-800 text-slate-100 ring-1 ring-slate-700 hover:bg-slate-700 focus-visible:ring-slate-300`;

/** An on/off setting: a switch whose accessible name is `label`, explained by `hint`. */
function Switch(
  { id, label, hint, on, onChange }: {
    id: string;
    label: string;
    hint: string;
    on: boolean;
    onChange(on: boolean): void;
  },
) {
  return (
    <div class="flex items-start gap-3 py-3">
      <span class="min-w-0 flex-1">
        <span id={`${id}-label`} class="block text-sm font-medium text-white">{label}</span>
        <span id={`${id}-hint`} class="block text-xs text-slate-400">{hint}</span>
      </span>
      <button
        type="button"
        role="switch"
        id={id}
        aria-checked={on}
        aria-labelledby={`${id}-label`}
        aria-describedby={`${id}-hint`}
        onClick={() => onChange(!on)}
        class={`relative mt-0.5 inline-flex h-6 w-11 shrink-0 items-center rounded-full transition-colors focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-300 focus-visible:ring-offset-2 focus-visible:ring-offset-slate-900 ${
          on ? "bg-indigo-600" : "bg-slate-700"
        }`}
      >
        <span
          aria-hidden="true"
          class={`inline-block h-5 w-5 rounded-full bg-white shadow transition-transform ${
            on ? "translate-x-5" : "translate-x-0.5"
          }`}
        />
      </button>
    </div>
  );
}

function Section(
  { id, title, children }: { id: string; title: ComponentChildren; children: ComponentChildren },
) {
  return (
    <section aria-labelledby={`${id}-title`} class="py-3">
      <h3 id={`${id}-title`} class="text-xs font-semibold uppercase tracking-wide text-slate-400">
        {title}
      </h3>
      {children}
    </section>
  );
}

/** How a knock is called in buttons and the list: its name, or what we know of it. */
function knockName(k: KnockEntry): string {
  return k.name === null ? "a newcomer" : k.name === "" ? "an unverified newcomer" : k.name;
}

/**
 * The "Host controls" side panel (hosts only): lock, lobby and who is waiting, mute everyone,
 * links whose two ends disagree, and ending the meeting for everyone (after a confirmation).
 */
export function HostPanel({ meeting, close }: { meeting: MeetingCore; close(): void }) {
  const feature = meeting.feature(host);
  const room = feature.room;
  const confirmEnd = useSignal(false);
  const knocks = room.knocks.value;
  const disputes = room.disputes.value;
  const nameOf = (peer: string) =>
    meeting.peers.value.find((p) => p.peer === peer)?.name || feature.nameOf(peer);

  return (
    <SidePanel panelId="host" label="Host controls" onClose={close}>
      <div class="flex-1 divide-y divide-slate-800 overflow-y-auto px-4">
        <div>
          <Switch
            id="host-lock"
            label="Lock meeting"
            hint="Nobody new can join. People already here can still reconnect."
            on={room.locked.value}
            onChange={(on) => feature.setLocked(on)}
          />
          <Switch
            id="host-lobby"
            label="Lobby"
            hint="Newcomers wait until a host lets them in. Turning it off lets everyone waiting in."
            on={room.lobby.value}
            onChange={(on) => feature.setLobby(on)}
          />
        </div>

        <Section id="host-waiting" title={`Waiting to join (${knocks.length})`}>
          {knocks.length === 0
            ? (
              <p class="mt-2 text-sm text-slate-400">
                {room.lobby.value
                  ? "Nobody is waiting."
                  : "Turn on the lobby to let newcomers in one by one."}
              </p>
            )
            : (
              <>
                <ul aria-label="Waiting to join" class="mt-2 space-y-2">
                  {knocks.map((k) => (
                    <li key={k.id} data-knock={k.id} class="flex items-center gap-2 text-sm">
                      <span class="min-w-0 flex-1">
                        <span class="block truncate font-medium text-white">
                          {k.name === null ? "Someone" : k.name === "" ? "Unknown" : k.name}
                        </span>
                        {k.name === null && (
                          <span class="text-xs text-slate-400">Their name has not arrived yet</span>
                        )}
                        {k.name !== null && !k.verified && (
                          <span class="text-xs text-rose-300">
                            Could not verify: their link's key differs
                          </span>
                        )}
                      </span>
                      <button
                        type="button"
                        class={PRIMARY}
                        aria-label={`Admit ${knockName(k)}`}
                        onClick={() =>
                          feature.admit(k.id, true)}
                      >
                        Admit
                      </button>
                      <button
                        type="button"
                        class={SECONDARY}
                        aria-label={`Deny ${knockName(k)}`}
                        onClick={() =>
                          feature.admit(k.id, false)}
                      >
                        Deny
                      </button>
                    </li>
                  ))}
                </ul>
                {knocks.length > 1 && (
                  <button
                    type="button"
                    class={`${SECONDARY} mt-3`}
                    onClick={() => feature.admitAll()}
                  >
                    Admit all
                  </button>
                )}
              </>
            )}
        </Section>

        {disputes.length > 0 && (
          <Section id="host-disputes" title="Links in doubt">
            <ul class="mt-2 space-y-2 text-sm text-slate-200">
              {disputes.map(([a, b]) => (
                <li key={`${a} ${b}`}>
                  {nameOf(a)} and {nameOf(b)}{" "}
                  report different states for their link; you can remove one of them (Participants,
                  then their actions).
                </li>
              ))}
            </ul>
          </Section>
        )}

        <Section id="host-everyone" title="Everyone">
          <div class="mt-2 flex flex-col gap-2">
            <button type="button" class={SECONDARY} onClick={() => feature.mute("all", "audio")}>
              Mute everyone
            </button>
            <button
              type="button"
              onClick={() => (confirmEnd.value = true)}
              class={`${BUTTON} bg-rose-600 text-white hover:bg-rose-700 focus-visible:ring-rose-300`}
            >
              End meeting for everyone
            </button>
          </div>
        </Section>
      </div>
      {confirmEnd.value && (
        <ConfirmDialog
          title="End the meeting for everyone?"
          confirmLabel="End meeting"
          onCancel={() => (confirmEnd.value = false)}
          onConfirm={() => {
            confirmEnd.value = false;
            feature.end();
          }}
        >
          <p>
            Everyone is disconnected at once, and this meeting's link stops working for a day.
          </p>
          <p class="font-semibold text-slate-100">This can't be undone.</p>
        </ConfirmDialog>
      )}
    </SidePanel>
  );
}
