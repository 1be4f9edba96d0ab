// What a newcomer sees on a collector that has stored nothing yet: how to send a first report.
import { h, trusted } from '../dom';

function codeBlock(text: string, labelText: string): HTMLElement {
  return h('pre', { tabindex: '0', 'aria-label': labelText }, h('code', {}, trusted(text)));
}

export function emptyState(): HTMLElement {
  const origin = window.location.origin;
  const now = Math.floor(Date.now() / 1000);
  const target = origin === 'http://127.0.0.1:8080' ? '' : ` --target ${origin}`;
  return h(
    'section',
    { class: 'empty', 'data-test': 'empty-state', 'aria-labelledby': 'empty-title' },
    h('h2', { id: 'empty-title' }, 'No reports yet'),
    h(
      'p',
      {},
      'This collector has not stored a report. RisingWave clusters post to a fixed address, ',
      h('code', {}, 'https://telemetry.risingwave.dev/api/v2/report/…'),
      ': to receive them, serve this collector under that name for your clusters (DNS and a certificate their images trust; docs/deploy.md, “Receiving from RisingWave”). This one takes ',
      h('code', {}, `${origin}/api/v2/report/{meta,compute,frontend,compactor}`),
      ' and ',
      h('code', {}, `${origin}/api/v2/report/events`),
      '. Or send a first report by hand:',
    ),
    h('h3', {}, 'A RisingWave meta report (protobuf, from the repository’s examples)'),
    codeBlock(
      `curl -X POST ${origin}/api/v2/report/meta \\\n  -H 'Content-Type: application/x-protobuf' --data-binary @examples/risingwave/meta-report.pb`,
      'curl command that sends the example protobuf meta report',
    ),
    h('h3', {}, 'A legacy v1 report (plain JSON, no file needed)'),
    codeBlock(
      `curl -X POST ${origin}/api/v1/report/meta -H 'Content-Type: application/json' -d \\\n  '{"tracking_id":"my-first-cluster","session_id":"s1","up_time":60,"time_stamp":${now},\n    "node_type":"Meta","meta_backend":"Etcd",\n    "node_count":{"meta_count":1,"compute_count":2,"frontend_count":1,"compactor_count":1}}'`,
      'curl command that sends a v1 JSON meta report',
    ),
    h('h3', {}, 'Or a whole simulated fleet'),
    h('p', {}, '200 clusters with 60 days of history, through the real wire formats:'),
    codeBlock(
      // The token is not printed: this page may be on a shared screen.
      `npx tidewatch simulate --clusters 200 --days 60${target} --token <your admin token>`,
      'command that sends a simulated fleet',
    ),
    h(
      'p',
      {},
      'Then reload this page. The API behind every number here is documented at ',
      h('a', { href: '/docs' }, '/docs'),
      '.',
    ),
  );
}
