/** The sender for each scheme of -to. */
import type { Scheme } from '../destination.js';
import type { Sender, SenderOptions } from '../sender.js';
import { SyslogStreamSender } from './syslog-stream.js';
import { UdpSender } from './udp.js';

export function makeSender(opts: SenderOptions): Sender {
  const scheme: Scheme = opts.destination.scheme;
  switch (scheme) {
    case 'tcp':
    case 'tls':
      return new SyslogStreamSender(opts);
    case 'udp':
      return new UdpSender(opts);
    default:
      throw new Error(`${scheme}:// is not supported yet`);
  }
}
