/** What every destination's encoding of an entry takes from the command line. */
export interface MessageOptions {
  /** HOSTNAME of RFC 5424, OTLP's resource host.name (-hostname; default the machine's). */
  hostname: string;
  /** The facility (0-23) of entries that do not carry their own (-facility; default 1, user). */
  facility: number;
}
