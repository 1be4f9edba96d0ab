// `GET /`: until the dashboard exists, a page that says what this is and how to send a first report.
import type { FastifyInstance } from 'fastify';

function page(base: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Tidewatch collector</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem;color:#1b1f24}
code,pre{background:#f1f3f5;border-radius:4px;padding:.1rem .3rem}pre{padding:.8rem;overflow:auto}</style></head>
<body><main>
<h1>Tidewatch collector</h1>
<p>This service receives telemetry reports from RisingWave clusters and Tidewatch agents, stores
them in its telemetry database, and answers questions about the fleet.</p>
<h2>Send a first report</h2>
<p>Point RisingWave's telemetry at this collector (<code>${base}/api/v2/report/meta</code> and the
other node types), or post a report by hand:</p>
<pre>curl -X POST ${base}/api/v1/report/meta -H 'Content-Type: application/json' \\
  -d '{"tracking_id":"my-first-cluster","session_id":"s1","up_time":60,"time_stamp":${Math.floor(Date.now() / 1000)},
       "node_type":"Meta","meta_backend":"Etcd",
       "node_count":{"meta_count":1,"compute_count":2,"frontend_count":1,"compactor_count":1}}'</pre>
<p>Then read it back with the access token printed when the collector first started:</p>
<pre>curl -H "Authorization: Bearer $TOKEN" ${base}/query/clusters/my-first-cluster</pre>
<h2>More</h2>
<ul><li><a href="/docs">API reference (OpenAPI)</a></li>
<li><a href="/healthz">/healthz</a>, <a href="/readyz">/readyz</a>, <a href="/metrics">/metrics</a></li></ul>
</main></body></html>`;
}

export async function homeRoute(app: FastifyInstance) {
  app.get('/', { schema: { hide: true } }, async (request, reply) => {
    const base = `${request.protocol}://${request.host}`;
    return reply.type('text/html; charset=utf-8').send(page(base));
  });
}
