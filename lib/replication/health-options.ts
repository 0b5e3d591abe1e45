/** Options of the `health` module option: the background monitor of every node. */
export interface HealthMonitorOptions {
  /** Check every node this often (`pg_is_in_recovery()`, WAL position, replay lag). @default 1000 */
  intervalMs?: number;
  /**
   * A check slower than this fails and marks the node down; a live WAL-position check of a replica
   * (read-your-writes with a token) slower than this gives up and the read goes elsewhere. @default 2000
   */
  timeoutMs?: number;
  /** Turn the monitor off (nodes are then only marked down by failing queries, and never back up). @default true */
  enabled?: boolean;
}
