/**
 * The fault run's history: one JSON object per line (JSON-lines), in the order events happened in
 * the runner's process. Jepsen's conventions: every operation is an `invoke` followed by exactly one
 * completion with the same `op` id: `ok` (it happened), `fail` (it certainly did not happen) or
 * `info` (unknown: it may or may not have happened, e.g. `CommitOutcomeUnknownError`).
 *
 * The workload is Elle's list-append: each key holds a list of integers; `append` adds one value
 * (unique across the whole run) at the end; `read` returns the whole list in order; `append-pair`
 * appends one value to two keys on different shards in one cross-shard transaction.
 */

/** What an operation does. */
export type OperationKind =
  /** Append `value` to `key`'s list (on the key's shard primary). */
  | 'append'
  /** Read `key`'s list on a replica, in a new context that carries the session's consistency token. */
  | 'read'
  /** Append `value` to `key`, then read `key` in the same context (read-your-writes within one context). */
  | 'append-read'
  /**
   * Append `value` to both `keys` (two keys on different shards) in one cross-shard transaction: both lists
   * get it, or neither. Each of its keys sees it as an append.
   */
  | 'append-pair'
  /** Cross-shard `find` of every key's list (ordered by key): `result` maps key → list. */
  | 'cross-find'
  /** Cross-shard `count` of the keys that have a list: `result` is a number. */
  | 'cross-count';

/** An error as the history records it. */
export interface RecordedError {
  /** The error class's name (`ShardUnavailableError`, `UniqueConstraintViolationException`, ...). */
  name: string;
  /** SQLSTATE or socket code when the error (or its cause) has one. */
  code?: string;
  /** First line of the message. */
  message: string;
  /** HTTP status when the operation went over HTTP. */
  status?: number;
  /**
   * What the answer said became of the write (`outcome` of the body): `aborted`, `committed`, `unknown`
   * (`CrossShardTransactionError`), `applied` (an append-read whose read failed).
   */
  outcome?: string;
}

interface EventBase {
  /** Milliseconds since the run started. */
  time: number;
}

/** An operation's start. */
export interface InvokeEvent extends EventBase {
  type: 'invoke';
  /** Unique per operation in the run. */
  op: number;
  /** The session (a logical client: its operations never overlap). */
  session: number;
  f: OperationKind;
  key?: string;
  /** For `append` / `append-read` / `append-pair`: the value appended, unique in the run. */
  value?: number;
  /** For `read`: the consistency token the read carried (absent: none yet). */
  token?: string;
  /** For `cross-find` / `cross-count`: the keys asked for (absent: every key); for `append-pair`: its two keys. */
  keys?: string[];
}

/** An operation's end. */
export interface CompletionEvent extends EventBase {
  type: 'ok' | 'fail' | 'info';
  op: number;
  session: number;
  f: OperationKind;
  key?: string;
  /** `append-pair`: its two keys. */
  keys?: string[];
  value?: number;
  /**
   * `append-pair` ok only: the transaction is committed (its decision is durable) but a shard's part was
   * still prepared when the answer came (`CrossShardTransactionError`, outcome `committed`, in `error`):
   * applied, visible on that shard once recovery commits it. Reads may miss it until then.
   */
  delayed?: boolean;
  /**
   * `read` / `append-read`: the list read (`append-read`: the list read after the append);
   * `cross-find`: key → list; `cross-count`: number of keys.
   */
  result?: number[] | Record<string, number[]> | number;
  /** The consistency token the session holds after the operation (for `append`, `append-read`). */
  token?: string;
  /** `fail` and `info` (and a `delayed` ok): what was thrown. */
  error?: RecordedError;
  /** Which node served a read, when known (e.g. `s0-replica-1`), for anomaly reports. */
  node?: string;
}

/** A fault the nemesis injected or healed. */
export interface FaultEvent extends EventBase {
  type: 'fault';
  /**
   * `kill` (SIGKILL), `pause` (SIGSTOP), `resume` (SIGCONT), `stop` (SIGINT fast shutdown), `start`,
   * `terminate-backends` (pg_terminate_backend of the app's connections), `replay-delay` / `replay-resume`
   * (replica replay paused or delayed), `hostile` (a hostile value sent), `promote` (a replica promoted,
   * the old primary kept out for the rest of the run), `heal` (everything back).
   */
  fault: string;
  /** Node names the fault touched. */
  nodes: string[];
  detail?: string;
}

/** What the runner observed after healing, at the end of the run. */
export interface FinalEvent extends EventBase {
  type: 'final';
  /** Every key's list read on its shard's (acting) primary after the run, key → list. */
  lists: Record<string, number[]>;
  /**
   * Per replica that still follows its shard's acting primary: its copy of every list of its shard
   * after it caught up (key → list; every key of the shard, `[]` where it holds none). Replicas orphaned by a promotion are listed in `orphanedReplicas` instead.
   */
  replicaLists: Record<string, Record<string, number[]>>;
  orphanedReplicas: string[];
  /** Per node: connections of the app's pools after the run settled (`total`, `idle`, `waiting`). */
  pools: Record<string, { total: number; idle: number; waiting: number }>;
  /**
   * Per acting primary: the prepared transactions of ours (`nms:%`) still there after the closing recovery
   * (`recoverTransactions({ graceMs: 0 })`), which ran before the lists were read. Absent in runs without
   * cross-shard transactions.
   */
  prepared?: Record<string, string[]>;
}

export type HistoryEvent = InvokeEvent | CompletionEvent | FaultEvent | FinalEvent;

/** Error names an operation may fail with (anything else is an anomaly). */
export const ALLOWED_ERROR_NAMES: ReadonlySet<string> = new Set([
  // the library's own family (subclasses of ShardingError)
  'ShardUnavailableError',
  'CommitOutcomeUnknownError',
  'CrossShardQueryError',
  'CrossShardTransactionError',
  'ShardingError',
  // MikroORM's statement exceptions (a statement, not the node, failed)
  'DriverException',
  'UniqueConstraintViolationException',
  'ForeignKeyConstraintViolationException',
  'NotNullConstraintViolationException',
  'CheckConstraintViolationException',
  'DeadlockException',
  'LockWaitTimeoutException',
  'InvalidFieldNameException',
  'SyntaxErrorException',
  'ValidationError',
]);
