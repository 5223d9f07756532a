/**
 * Leader election for the scheduled jobs: with several `process` instances on one PostgreSQL store exactly one
 * runs each job. The PostgreSQL store's lock (src/store/postgres.ts `leaderLock`) is a session advisory lock
 * held on one dedicated connection; a non-leader tries again at each schedule tick, so when the leader dies
 * (its session ends, the server frees the lock) another instance takes over at its next tick. A store
 * without `leaderLock` (SQLite: one process owns the file) is always leader.
 */
export interface LeaderLock {
  /** True while this process holds the lock; tries to take it when it does not. Never throws (false on error). */
  isLeader(): Promise<boolean>;
  /** Gives the lock up (at stop); isLeader() may take it again afterwards. */
  release(): Promise<void>;
}

/** The lock of a process that is the only one that can run the jobs (SQLite). */
export const alwaysLeader: LeaderLock = {
  isLeader: async () => true,
  release: async () => undefined,
};
