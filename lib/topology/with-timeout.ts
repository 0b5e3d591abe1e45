/**
 * `work`, or a rejection with `timeoutError()` once `ms` have passed. The work itself is not stopped:
 * `timeoutError` is the place to stop it (e.g. abort its signal). A failure of `work` after the
 * timeout won is already reported, so it is not left unhandled.
 */
export async function withTimeout<T>(work: Promise<T>, ms: number, timeoutError: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(timeoutError()), ms);
  });
  work.catch(() => undefined);
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** The plain "no answer" error of a timed-out node query. */
export const noAnswerWithin = (ms: number) => () => new Error(`no answer within ${ms} ms`);
