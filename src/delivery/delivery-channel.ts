// An alert is delivered once per version: version 1 is the alert itself, each correction or
// retraction a follow-up with its own ledger entries, outcomes and retries. A follow-up's
// deliveries live in the alert's ledger under their own channel names, "email@v2" or
// "x-main@v3", so counts, live progress, retries and status treat them like any other channel.

export function deliveryChannel(channel: string, version = 1): string {
  return version <= 1 ? channel : `${channel}@v${version}`;
}

export function parseDeliveryChannel(name: string): { channel: string; version: number } {
  const m = /^(.*)@v(\d+)$/.exec(name);
  return m ? { channel: m[1], version: Number(m[2]) } : { channel: name, version: 1 };
}

/** The key of one version's fan-out state (publications): the alert id for version 1. */
export function deliveryId(alertId: string, version = 1): string {
  return version <= 1 ? alertId : `${alertId}@v${version}`;
}
