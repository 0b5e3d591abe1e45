import { Listr } from 'listr2';

/** One unit of work shown while it runs; it resolves a one-line summary, or throws (its message is shown). */
export interface ProgressStep {
  title: string;
  run(): Promise<string>;
}

/** Shows steps while they run. A failed step does not stop the others; `run()` never rejects. */
export interface Progress {
  run(steps: readonly ProgressStep[], concurrency: number): Promise<void>;
}

/** listr2 on a terminal; one plain line per step start and end when not a TTY or in CI. */
export function chooseProgress(
  write: (line: string) => void,
  env: NodeJS.ProcessEnv = process.env,
  isTTY = Boolean(process.stdout.isTTY),
): Progress {
  return isTTY && !isCi(env) ? new ListrProgress() : new PlainProgress(write);
}

/** `CI` set to anything but `false`/`0` (GitHub Actions, GitLab, CircleCI, ... set it). */
export function isCi(env: NodeJS.ProcessEnv): boolean {
  return env.CI !== undefined && env.CI !== '' && env.CI !== 'false' && env.CI !== '0';
}

/** One line when a step starts, one when it ends (`ok` / `FAILED`), in the order things happen. */
export class PlainProgress implements Progress {
  constructor(private readonly write: (line: string) => void) {}

  async run(steps: readonly ProgressStep[], concurrency: number): Promise<void> {
    await runLimited(steps, concurrency, async (step) => {
      this.write(`... ${step.title}`);
      try {
        this.write(`ok  ${step.title}: ${await step.run()}`);
      } catch (error) {
        this.write(`FAILED ${step.title}: ${(error as Error).message}`);
      }
    });
  }
}

/** listr2's live task list (a spinner per running step). */
export class ListrProgress implements Progress {
  async run(steps: readonly ProgressStep[], concurrency: number): Promise<void> {
    const list = new Listr(
      steps.map((step) => ({
        title: step.title,
        task: async (_: unknown, task: { title: string }) => {
          task.title = `${step.title}: ${await step.run()}`;
        },
      })),
      { concurrent: Math.max(1, concurrency), exitOnError: false, registerSignalListeners: false },
    );
    await list.run().catch(() => undefined);
  }
}

/** Runs `work` over `items`, at most `limit` at once, in order of start. */
export async function runLimited<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>) {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await work(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
}
