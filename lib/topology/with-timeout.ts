/** A timer that fired this much later than asked means the event loop was blocked, not that the work was slow. */
const LATE_MS = 50;

/**
 * `work`, or a rejection with `timeoutError()` once `ms` of event-loop time have passed. The work itself is
 * not stopped: `timeoutError` is the place to stop it (e.g. abort its signal), `abandoned` receives it to
 * clean up what it yields late (e.g. a connection). A failure of `work` after the timeout won is already
 * reported, so it is not left unhandled.
 *
 * Time the process spent blocked does not count: when the timer fires late (a busy event loop), the answer
 * may be waiting, unread, in a socket. So the verdict waits for the I/O phase (`setImmediate`), and the
 * window is extended by how late the timer was (at most 3 × `ms` in all). A busy application never takes
 * a healthy node for a dead one.
 */
export function withTimeout<T>(
  work: Promise<T>,
  ms: number,
  timeoutError: () => Error,
  abandoned?: (work: Promise<T>) => void,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    let extendedBy = 0;
    let timer: NodeJS.Timeout | undefined;
    let expected = 0;
    const arm = (delay: number) => {
      expected = performance.now() + delay;
      timer = setTimeout(onTimer, delay);
    };
    const onTimer = () => {
      const late = performance.now() - expected;
      setImmediate(() => {
        if (settled) return;
        if (late > LATE_MS && extendedBy < 2 * ms) {
          const more = Math.min(late, 2 * ms - extendedBy);
          extendedBy += more;
          arm(more);
          return;
        }
        settled = true;
        reject(timeoutError());
        abandoned?.(work);
      });
    };
    arm(ms);
    work.then(
      (value) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}

/** The plain "no answer" error of a timed-out node query. */
export const noAnswerWithin = (ms: number) => () => new Error(`no answer within ${ms} ms`);
