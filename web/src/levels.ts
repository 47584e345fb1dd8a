/** Severities as logread -p names them: 0 emerg (most urgent) to 7 debug. */

export const LEVEL_NAMES = ['emerg', 'alert', 'crit', 'err', 'warning', 'notice', 'info', 'debug'] as const;

/** Short labels for the list's level column. */
export const LEVEL_SHORT = ['EMERG', 'ALERT', 'CRIT', 'ERR', 'WARN', 'NOTE', 'INFO', 'DEBUG'] as const;

const ALIASES: Record<string, number> = { panic: 0, error: 3, warn: 4 };

/** 0-7 for a level name or number as the URL may hold it (`err`, `3`, `warn`), else undefined. */
export function parseLevel(text: string): number | undefined {
  const t = text.trim().toLowerCase();
  if (/^[0-7]$/.test(t)) return Number(t);
  const i = (LEVEL_NAMES as readonly string[]).indexOf(t);
  return i >= 0 ? i : ALIASES[t];
}
