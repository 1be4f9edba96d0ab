// A real agent for the integration tests, and readers for the report it would send next.
import { type Agent, type AgentReport, createAgent } from '@tidewatch/agent';

/** An in-memory agent whose schedule never fires during a test: reports come from preview()/flush(). */
export function testAgent(endpoint = 'http://127.0.0.1:9'): Agent {
  return createAgent({
    endpoint,
    nodeType: 'integration-test',
    dataDir: null,
    firstReportDelay: 86_400_000,
    jitter: 0,
    env: {},
    logger: { warn: () => {} },
  });
}

type Metric = AgentReport['metrics'][number];

function series(report: AgentReport, name: string, labels: Record<string, string>): Metric[] {
  return report.metrics.filter(
    (m) => m.name === name && Object.entries(labels).every(([k, v]) => m.labels[k] === v),
  );
}

/** The summed counter value of the series of `name` whose labels include `labels` (0 when none). */
export function counterTotal(report: AgentReport, name: string, labels: Record<string, string> = {}): number {
  return series(report, name, labels).reduce((sum, m) => sum + m.value, 0);
}

/** Values recorded into the histogram series of `name` whose labels include `labels`. */
export function histogramCount(
  report: AgentReport,
  name: string,
  labels: Record<string, string> = {},
): number {
  return series(report, name, labels).reduce((sum, m) => sum + (m.histogram?.count ?? 0), 0);
}

/** The label sets of the series of `name`. */
export function labelSets(report: AgentReport, name: string): Record<string, string>[] {
  return report.metrics.filter((m) => m.name === name).map((m) => ({ ...m.labels }));
}

export async function nextReport(agent: Agent): Promise<AgentReport> {
  const report = await agent.preview();
  if (!report) throw new Error('the test agent is disabled');
  return report;
}

/** The events named `name` with their fields as plain values. */
export function eventFields(report: AgentReport, name: string): Record<string, unknown>[] {
  return report.events.filter((e) => e.name === name).map((e) => ({ ...e.fields }));
}
