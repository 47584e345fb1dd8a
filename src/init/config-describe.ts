/** The init's start-up line, from a parsed config (no YAML here: the init itself never loads the parser, see config-apart.ts). */
import type { InitConfig } from './config-model.js';

function plural(n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** The init's start-up line: what will run and where its output goes. */
export function describeConfig(config: InitConfig): string {
  const what = `${plural(config.onboot.length, 'on-boot action', 'on-boot actions')}, ${plural(config.services.length, 'service', 'services')}`;
  const where = config.memlogd
    ? `logging through memlogd (log socket ${config.memlogd.socketLog}, query socket ${config.memlogd.socketQuery})`
    : `no memlogd: output goes to files under ${config.logDir}`;
  const persist = config.persist ? `; the init persists the ring to ${config.persist.logDir}` : '';
  return `${config.file}: ${what}; ${where}${persist}`;
}
