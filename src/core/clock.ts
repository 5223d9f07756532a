/** Time, passed in rather than read from globals, so time-based logic is testable on a fake clock. */
export interface Timer {
  cancel(): void;
}

export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): Timer;
  setInterval(fn: () => void, ms: number): Timer;
}

/** Node timers keep the process alive unless unref'd; the module also type-checks for the browser (web/ imports core types). */
function unref(handle: unknown): void {
  (handle as { unref?: () => void }).unref?.();
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout(fn, ms) {
    const handle = setTimeout(fn, ms);
    unref(handle);
    return { cancel: () => clearTimeout(handle) };
  },
  setInterval(fn, ms) {
    const handle = setInterval(fn, ms);
    unref(handle);
    return { cancel: () => clearInterval(handle) };
  },
};
