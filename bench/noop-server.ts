// The ceiling for `npm run bench:ingest`: a fastify 5 server that does everything an ingest route
// does at the HTTP level (read an application/x-protobuf body as a buffer, within the same 1 MiB
// limit, answer JSON) and nothing else: no decoding, no validation, no store. Run in its own process
// by bench/ingest.ts, like the collector, and prints the same `listening on http://HOST:PORT` line.
import Fastify from 'fastify';

const portFlag = process.argv.indexOf('--port');
const port = portFlag >= 0 ? Number(process.argv[portFlag + 1]) : 0;

const app = Fastify({ logger: false, bodyLimit: 1024 * 1024 });
app.addContentTypeParser('application/x-protobuf', { parseAs: 'buffer' }, (_request, body, done) => {
  done(null, body);
});
app.post('/api/v2/report/:node', async (request) => {
  const body = request.body as Buffer;
  return { status: 'stored', reports: body.length > 0 ? 1 : 0, events: 0 };
});

const url = await app.listen({ host: '127.0.0.1', port });
console.log(`listening on ${url}`);

const stop = () => {
  app.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
