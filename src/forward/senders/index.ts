/** The sender for each scheme of -to. */
import type { Scheme } from '../destination.js';
import type { Sender, SenderOptions } from '../sender.js';
import { SyslogStreamSender } from './syslog-stream.js';
import { UdpSender } from './udp.js';
import { RelpSender } from './relp.js';
import { OtlpSender } from './otlp.js';
import { memlogVersion } from '../../version.js';

export function makeSender(opts: SenderOptions): Sender {
  const scheme: Scheme = opts.destination.scheme;
  switch (scheme) {
    case 'tcp':
    case 'tls':
      return new SyslogStreamSender(opts);
    case 'udp':
      return new UdpSender(opts);
    case 'relp':
    case 'relp+tls':
      return new RelpSender({ ...opts, window: opts.relpWindow });
    case 'otlp':
    case 'otlps':
      return new OtlpSender(opts, { version: memlogVersion() });
  }
}
