// One cluster's connector usage counted per kind, connector, format and encode. The SQL stores keep
// it with each day's facts (cluster_day_facts.connector_uses), so the connectors statistic adds up
// small arrays instead of parsing every cluster's connector JSON on every request.
import { connectorUsesOf } from '@tidewatch/protocol';

/** [kind, connector, format, encode, how many of them the cluster has]. */
export type ConnectorUseCount = [
  kind: 'source' | 'sink',
  connector: string | null,
  format: string | null,
  encode: string | null,
  uses: number,
];

/** One set of connector uses and how many clusters have exactly that set. */
export interface CountedConnectorUses {
  uses: ConnectorUseCount[];
  clusters: number;
}

export function connectorUseCounts(json: string | null): ConnectorUseCount[] {
  const counts = new Map<string, ConnectorUseCount>();
  for (const use of connectorUsesOf(json)) {
    const key = JSON.stringify([use.kind, use.connector, use.format, use.encode]);
    const seen = counts.get(key);
    if (seen) seen[4]++;
    else counts.set(key, [use.kind, use.connector, use.format, use.encode, 1]);
  }
  return [...counts.values()];
}

/**
 * The stored connector names an event filter for `connector` matches: ingest stores it
 * lower-cased (CREATE SOURCE events carry the user's `Kinesis`), so `Kinesis` must find `kinesis`;
 * events stored by collectors from before that keep the spelling they were sent with.
 */
export function eventConnectorNames(connector: string): string[] {
  const lower = connector.toLowerCase();
  return lower === connector ? [connector] : [lower, connector];
}
