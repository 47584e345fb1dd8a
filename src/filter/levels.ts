/**
 * Severities, as syslog numbers them (RFC 5424) and journalctl -p names them:
 * 0 emerg (most urgent) to 7 debug. An entry without one counts as info.
 */

export const LEVEL_NAMES = ['emerg', 'alert', 'crit', 'err', 'warning', 'notice', 'info', 'debug'] as const;
export type LevelName = (typeof LEVEL_NAMES)[number];

/** The severity an entry without one is taken to have. */
export const DEFAULT_SEVERITY = 6;

const ALIASES: Record<string, number> = { panic: 0, error: 3, warn: 4 };

/** 0-7 for a level name or number (`err`, `3`, `warning`, `warn`), or undefined. */
export function parseLevel(text: string): number | undefined {
  const t = text.trim().toLowerCase();
  if (/^[0-7]$/.test(t)) return Number(t);
  const i = (LEVEL_NAMES as readonly string[]).indexOf(t);
  if (i >= 0) return i;
  return ALIASES[t];
}

export function levelName(severity: number): LevelName {
  return LEVEL_NAMES[severity];
}

/** Syslog's facilities by their usual names (RFC 5424 table 1), numbered 0-23. */
export const FACILITY_NAMES = [
  'kern', 'user', 'mail', 'daemon', 'auth', 'syslog', 'lpr', 'news', 'uucp', 'cron', 'authpriv', 'ftp',
  'ntp', 'security', 'console', 'solaris-cron', 'local0', 'local1', 'local2', 'local3', 'local4', 'local5', 'local6', 'local7',
] as const;

/** 0-23 for a facility name or number (`daemon`, `local3`, `3`), or undefined. */
export function parseFacility(text: string): number | undefined {
  const t = text.trim().toLowerCase();
  if (/^(?:[0-9]|1[0-9]|2[0-3])$/.test(t)) return Number(t);
  const i = (FACILITY_NAMES as readonly string[]).indexOf(t);
  return i >= 0 ? i : undefined;
}
