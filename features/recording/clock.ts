/**
 * A ticker for drawing the recording's frames that keeps its pace in a background tab. Browsers
 * slow timers of hidden tabs to once a second (and Chromium to once a minute after five), which
 * would freeze the picture of a recording made from a tab the person left. Audio keeps running in
 * a hidden tab, so the ticks come from the audio clock: a silent source scheduled to end at each
 * tick, whose `ended` event is an ordinary task, not a timer.
 *
 * @example
 * ```ts
 * const context = new AudioContext(); // in the click that starts recording
 * const stop = audioTicker(context, 1000 / 15, (late) => draw(late));
 * ```
 */

/**
 * Calls `onTick` every `intervalMs` on `context`'s clock until the returned function is called.
 * `onTick` gets how many whole intervals it came late (frames that were not drawn in time: 0
 * normally). Ticks that fall behind are not made up in a burst: the next is due an interval
 * after the late one.
 */
export function audioTicker(
  context: AudioContext,
  intervalMs: number,
  onTick: (missed: number) => void,
): () => void {
  const interval = intervalMs / 1000;
  // Silent, but in the graph: a source nobody pulls may never end.
  const sink = context.createGain();
  sink.gain.value = 0;
  sink.connect(context.destination);
  let due = context.currentTime + interval;
  let stopped = false;
  let source: ConstantSourceNode | null = null;
  const schedule = () => {
    if (stopped) return;
    source = context.createConstantSource();
    source.connect(sink);
    source.onended = () => {
      source?.disconnect();
      if (stopped) return;
      const now = context.currentTime;
      const lateBy = now - due;
      const missed = lateBy > interval ? Math.floor(lateBy / interval) : 0;
      // On time, the next is an interval after this one was due (no drift); late, never sooner
      // than half an interval from now, so that two late ticks never make frames a moment apart.
      due = missed > 0 ? now + interval : Math.max(due + interval, now + interval / 2);
      try {
        onTick(missed);
      } finally {
        schedule();
      }
    };
    source.start();
    source.stop(due);
  };
  schedule();
  return () => {
    stopped = true;
    source?.disconnect();
    sink.disconnect();
  };
}
