/**
 * The typed model of `memlog init`'s configuration: what a parsed config
 * holds, and the one error type every config problem is reported as.
 * No parsing here; see config.ts for how a file becomes an InitConfig.
 */

export type RestartPolicy = 'never' | 'on-failure' | 'always';

export const RESTART_POLICIES: readonly RestartPolicy[] = ['never', 'on-failure', 'always'];

export interface ProgramConfig {
  /** Unique within onboot, and within services. */
  name: string;
  /** argv, at least the program. */
  command: string[];
  /** Added to the init's environment. */
  env: Record<string, string>;
  /** Absolute. */
  cwd?: string;
}

export interface ServiceConfig extends ProgramConfig {
  restart: RestartPolicy;
  /** The first delay before a restart; the init doubles it after each quick failure, up to 30 s. */
  restartDelayMs: number;
  /** Stopped after all the others at shutdown (the persister, to write their last lines). */
  stopLast: boolean;
}

export interface MemlogdSection {
  socketLog: string;
  socketQuery: string;
  /** Unset: memlogd's own defaults. */
  maxLines?: number;
  maxLineLen?: number;
  maxBytes?: number;
  /** memlogd's syslog datagram socket (-socket-syslog), e.g. RUN/log or /dev/log. */
  syslog?: string;
  /** memlogd's syslog stream socket (-syslog-stream): a path of its own. */
  syslogStream?: string;
  /** memlogd reads the kernel log itself (-kmsg), into entries of source kmsg. */
  kmsg?: boolean;
  /** false: memlogd keeps its ring's text raw (-compress-ring=false). */
  compressRing?: boolean;
  /**
   * The daemon to run (default: this installation's memlogd), given its
   * flags after these: -fd-log=3 -fd-query=4 and the bounds above, and
   * -restart-of=ID when it replaces one that died.
   */
  command?: string[];
}

/**
 * The `persist:` section: memlogd's ring written to files by the init itself,
 * with the persister logwrite runs (same flags, same guarantees), instead of
 * a logwrite service: one Node process fewer.
 */
export interface PersistSection {
  /** Absolute. */
  logDir: string;
  /** Files kept per source (logwrite's -max-log-files). */
  maxFiles: number;
  /** Bytes after which X.log is rotated (-max-log-size). */
  maxFileSize: number;
  compress: boolean;
  maxSourceBytes?: number;
  maxDirBytes?: number;
  format: 'text' | 'json';
  fsync: boolean;
}

export interface InitConfig {
  /** Every path here is absolute. */
  file: string;
  runDir: string;
  logDir: string;
  shutdownGraceMs: number;
  /** Present: logging through memlogd. */
  memlogd?: MemlogdSection;
  /** Present: the init persists memlogd's ring itself (it needs memlogd). */
  persist?: PersistSection;
  onboot: ProgramConfig[];
  services: ServiceConfig[];
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}
