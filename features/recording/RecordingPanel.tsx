import { useSignal } from "@preact/signals";
import { useEffect } from "preact/hooks";
import { SidePanel } from "../../components/meeting/SidePanel.tsx";
import type { MeetingCore } from "../../mesh/meeting.ts";
import type { PeerId } from "../../mesh/types.ts";
import { current, startError, starting, startRecording } from "./controller.ts";
import {
  canSave,
  deleteSaved,
  finalize,
  recordingTitle,
  savedFile,
  type SavedRecording,
  savedRecordings,
} from "./finalize.ts";
import { Journal, type JournalEntry } from "./journal.ts";
import { recording } from "./recording.ts";
import { formatBytes, formatDuration } from "./format.ts";

const BUTTON =
  "rounded-lg px-3 py-1.5 text-sm font-semibold focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-300 disabled:opacity-50";
const PRIMARY = `${BUTTON} bg-indigo-600 text-white hover:bg-indigo-700`;
const DANGER = `${BUTTON} bg-rose-600 text-white hover:bg-rose-700`;
const QUIET = `${BUTTON} bg-slate-800 text-slate-100 hover:bg-slate-700`;

/** Saves a file the browser holds on disk through a download, without reading it into memory. */
async function download(name: string): Promise<void> {
  const url = URL.createObjectURL(await savedFile(name));
  const a = document.createElement("a");
  a.href = url;
  a.download = name;
  a.click();
  // The download holds the file from here; the URL only needs to outlive the click.
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

/** Our own recording: start, pause, resume, stop; time and size; saving and its outcome. */
function OwnRecording({ meeting }: { meeting: MeetingCore }) {
  const feature = meeting.feature(recording);
  const asked = useSignal(false);
  const rec = current.value;
  const phase = rec?.phase.value;
  if (rec && (phase === "recording" || phase === "paused")) {
    return (
      <div class="space-y-3">
        <p class="flex items-center gap-2 text-sm font-semibold text-rose-200">
          <span aria-hidden="true" class="h-2.5 w-2.5 rounded-full bg-rose-500" />
          {phase === "paused" ? "Recording paused" : "Recording"}
        </p>
        <div class="grid grid-cols-2 gap-2 text-sm">
          <div>
            <p id="recording-time-label" class="text-slate-400">Time recorded</p>
            <p
              role="timer"
              aria-labelledby="recording-time-label"
              class="font-mono text-lg text-white"
            >
              {formatDuration(rec.elapsedMs.value)}
            </p>
          </div>
          <div>
            <p class="text-slate-400">Size on disk</p>
            <p data-bytes={rec.bytes.value} class="font-mono text-lg text-white">
              {formatBytes(rec.bytes.value)}
            </p>
          </div>
        </div>
        <div class="flex gap-2">
          {phase === "paused"
            ? (
              <button type="button" class={QUIET} onClick={() => rec.resume()}>
                Resume recording
              </button>
            )
            : (
              <button type="button" class={QUIET} onClick={() => rec.pause()}>
                Pause recording
              </button>
            )}
          <button type="button" class={DANGER} onClick={() => void rec.stop()}>
            Stop recording
          </button>
        </div>
      </div>
    );
  }
  if (rec && (phase === "stopping" || phase === "saving")) {
    const percent = Math.round(rec.progress.value * 100);
    return (
      <div class="space-y-2">
        <p class="text-sm text-slate-200">
          Saving the recording ({formatDuration(rec.elapsedMs.value)})…
        </p>
        <progress
          aria-label="Saving the recording"
          max={100}
          value={percent}
          class="h-2 w-full"
        />
      </div>
    );
  }
  const allowed = feature.allowed.value;
  return (
    <div class="space-y-3">
      {rec && phase === "saved" && rec.saved.value && (
        <p role="status" class="text-sm text-emerald-200">
          Saved {rec.saved.value.name} ({formatBytes(rec.saved.value.size)}). Download it below.
        </p>
      )}
      {rec && phase === "failed" && <p role="alert" class="text-sm text-rose-200">{rec.error}</p>}
      {startError.value && <p role="alert" class="text-sm text-rose-200">{startError}</p>}
      {allowed
        ? (
          <>
            <p class="text-sm text-slate-300">
              Records everyone's video as laid out, the shared screen and everyone's sound into a
              file in this browser. Everyone in the meeting sees that you are recording.
            </p>
            <button
              type="button"
              class={PRIMARY}
              disabled={starting.value || !canSave()}
              onClick={() => void startRecording(meeting, feature)}
            >
              {starting.value ? "Starting…" : "Start recording"}
            </button>
            {!canSave() && (
              <p class="text-sm text-slate-300">This browser cannot keep files for a recording.</p>
            )}
          </>
        )
        : (
          <>
            <p class="text-sm text-slate-300">
              Only hosts, and the people they allow, can record this meeting.
            </p>
            <button
              type="button"
              class={QUIET}
              disabled={asked.value}
              onClick={() => {
                if (feature.ask()) {
                  asked.value = true;
                  meeting.notify("info", "Asked the hosts to let you record.");
                } else meeting.notify("error", "No host is connected to ask right now.");
              }}
            >
              {asked.value ? "Asked the hosts" : "Ask to record"}
            </button>
          </>
        )}
    </div>
  );
}

/** Hosts: who may record; who asked. */
function WhoMayRecord({ meeting }: { meeting: MeetingCore }) {
  const feature = meeting.feature(recording);
  if (!feature.isHost.value) return null;
  const policy = feature.policy.value;
  const asks = feature.asks.value;
  const people = meeting.peers.value.filter((p) => p.verified);
  const hosts = meeting.room.hosts.value;
  const set = (everyone: boolean, allowed: readonly PeerId[]) =>
    feature.setPolicy({ everyone, allowed });
  const allow = (peer: PeerId, on: boolean) =>
    set(
      policy.everyone,
      on ? [...policy.allowed, peer] : policy.allowed.filter((p) => p !== peer),
    );
  return (
    <section aria-labelledby="recording-who" class="space-y-2 border-t border-slate-800 pt-3">
      <h3 id="recording-who" class="text-sm font-semibold text-white">Who can record</h3>
      {asks.length > 0 && (
        <ul aria-label="Asking to record" class="space-y-1">
          {asks.map((peer) => (
            <li key={peer} class="flex items-center justify-between gap-2 text-sm text-slate-100">
              {feature.nameOf(peer)} asks to record
              <button
                type="button"
                class={PRIMARY}
                onClick={() =>
                  allow(peer, true)}
              >
                Allow
              </button>
            </li>
          ))}
        </ul>
      )}
      <div role="radiogroup" aria-labelledby="recording-who" class="flex gap-4 text-sm">
        {([["Hosts only", false], ["Everyone", true]] as const).map(([label, everyone]) => (
          <label key={label} class="flex items-center gap-2 text-slate-100">
            <input
              type="radio"
              name="recording-who"
              checked={policy.everyone === everyone}
              onChange={() =>
                set(everyone, policy.allowed)}
            />
            {label}
          </label>
        ))}
      </div>
      {!policy.everyone && people.some((p) => !hosts.includes(p.peer)) && (
        <ul aria-label="Allowed to record" class="space-y-1 text-sm">
          {people.filter((p) =>
            !hosts.includes(p.peer)
          ).map((p) => (
            <li key={p.peer}>
              <label class="flex items-center gap-2 text-slate-100">
                <input
                  type="checkbox"
                  checked={policy.allowed.includes(p.peer)}
                  onChange={(e) => allow(p.peer, e.currentTarget.checked)}
                />
                Allow {p.name || "Someone"} to record
              </label>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

/** Recordings kept in this browser: saved files, and recordings a crash or full disk left. */
function Library() {
  const saved = useSignal<SavedRecording[]>([]);
  const unfinished = useSignal<JournalEntry[]>([]);
  const busy = useSignal<string | null>(null);
  const message = useSignal("");
  const phase = current.value?.phase.value;

  const refresh = async () => {
    try {
      saved.value = await savedRecordings();
      const journal = await Journal.open();
      try {
        unfinished.value = await journal.unfinished();
      } finally {
        journal.close();
      }
    } catch {
      // Storage refused (a private window): nothing to list.
    }
  };
  useEffect(() => void refresh(), [phase]);

  const saveUnfinished = async (entry: JournalEntry) => {
    busy.value = entry.id;
    message.value = "";
    const journal = await Journal.open();
    try {
      const file = await finalize(await journal.blob(entry.id), recordingTitle(entry.startedAt));
      await journal.remove(entry.id);
      message.value = `Saved ${file.name}.`;
    } catch (err) {
      message.value = `That recording could not be saved (${(err as Error)?.message ?? err}).`;
    } finally {
      journal.close();
      busy.value = null;
      await refresh();
    }
  };
  const removeUnfinished = async (entry: JournalEntry) => {
    const journal = await Journal.open();
    try {
      await journal.remove(entry.id);
    } finally {
      journal.close();
      await refresh();
    }
  };

  if (saved.value.length === 0 && unfinished.value.length === 0 && !message.value) return null;
  return (
    <section aria-labelledby="recording-library" class="space-y-2 border-t border-slate-800 pt-3">
      <h3 id="recording-library" class="text-sm font-semibold text-white">
        Recordings in this browser
      </h3>
      {message.value && <p role="status" class="text-sm text-slate-200">{message}</p>}
      {unfinished.value.length > 0 && (
        <ul aria-label="Unfinished recordings" class="space-y-2">
          {unfinished.value.map((e) => {
            const title = recordingTitle(e.startedAt);
            return (
              <li key={e.id} class="rounded-lg bg-slate-800 p-2 text-sm text-slate-100">
                <p>
                  {title}{" "}
                  <span class="text-slate-300">
                    ({formatDuration(e.durationMs)}, {formatBytes(e.bytes)}, not saved yet)
                  </span>
                </p>
                <div class="mt-1 flex gap-2">
                  <button
                    type="button"
                    class={PRIMARY}
                    aria-label={`Save ${title}`}
                    disabled={busy.value !== null}
                    onClick={() => void saveUnfinished(e)}
                  >
                    {busy.value === e.id ? "Saving…" : "Save"}
                  </button>
                  <button
                    type="button"
                    class={QUIET}
                    aria-label={`Delete ${title}`}
                    disabled={busy.value !== null}
                    onClick={() =>
                      void removeUnfinished(e)}
                  >
                    Delete
                  </button>
                </div>
              </li>
            );
          })}
        </ul>
      )}
      {saved.value.length > 0 && (
        <ul aria-label="Saved recordings" class="space-y-2">
          {saved.value.map((r) => (
            <li key={r.name} class="rounded-lg bg-slate-800 p-2 text-sm text-slate-100">
              <p class="break-all">
                {r.name} <span class="text-slate-300">({formatBytes(r.size)})</span>
              </p>
              <div class="mt-1 flex gap-2">
                <button
                  type="button"
                  class={PRIMARY}
                  aria-label={`Download ${r.name}`}
                  onClick={() =>
                    void download(r.name)}
                >
                  Download
                </button>
                <button
                  type="button"
                  class={QUIET}
                  aria-label={`Delete ${r.name}`}
                  onClick={async () => {
                    await deleteSaved(r.name).catch(() => {});
                    await refresh();
                  }}
                >
                  Delete
                </button>
              </div>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

/** The Recording panel: our recording, who may record (hosts), the recordings kept here. */
export function RecordingPanel({ meeting, close }: { meeting: MeetingCore; close(): void }) {
  return (
    <SidePanel panelId="recording" label="Recording" onClose={close}>
      <div class="flex-1 space-y-4 overflow-y-auto p-4">
        <OwnRecording meeting={meeting} />
        <WhoMayRecord meeting={meeting} />
        <Library />
      </div>
    </SidePanel>
  );
}
