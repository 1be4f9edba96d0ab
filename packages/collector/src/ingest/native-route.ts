// `POST /api/v3/report`: the native protocol the Tidewatch agent speaks (JSON or protobuf, gzip
// allowed). The report id is the retry key: a resent report is answered 200 and stored once.
import { decodeNativeReport, NATIVE_CONTENT_TYPES, type NativeContentType } from '@tidewatch/protocol';
import type { FastifyInstance } from 'fastify';
import { acceptRawBodies, inflatedBody, ingestedResponse, requireMediaType } from '../http/body.js';
import type { IngestRouteOptions } from './risingwave-routes.js';

export async function nativeRoute(app: FastifyInstance, opts: IngestRouteOptions) {
  const { pipeline, limits, bodyLimit } = opts;
  acceptRawBodies(app, bodyLimit);
  app.addHook('onRequest', limits.checkAddress);
  app.addHook('onRequest', opts.inflight.reserve);
  app.post(
    '/api/v3/report',
    {
      bodyLimit,
      schema: {
        tags: ['ingest'],
        summary: 'Tidewatch agent report (native protocol v3; JSON or protobuf)',
        description:
          'Body: an AgentReport (packages/protocol/src/native/model.ts; protobuf: proto/tidewatch/report.proto) ' +
          'with `protocol: 3`. Dedup key: reportId.',
        response: ingestedResponse,
      },
    },
    async (request, reply) => {
      const receivedAt = Date.now();
      const type = requireMediaType(request, NATIVE_CONTENT_TYPES) as NativeContentType;
      const raw = await inflatedBody(request, bodyLimit);
      limits.checkBytes(request, reply, raw.length);
      const report = decodeNativeReport(raw, type);
      await limits.checkClusters(request, reply, [report.trackingId]);
      return pipeline.agentReport(report, raw, receivedAt);
    },
  );
}
