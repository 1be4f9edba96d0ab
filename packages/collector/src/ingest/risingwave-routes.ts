// RisingWave's ingest routes, exactly as real clusters call them (CONTRACT.md, RISINGWAVE-WIRE.md):
// v2 protobuf node reports and events, v1 JSON node reports. No auth: RisingWave sends none.
import {
  decodeV1Report,
  decodeV2Event,
  decodeV2EventBatchRaw,
  decodeV2Report,
  NODE_TYPES,
  type NodeType,
} from '@tidewatch/protocol';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { InflightBytes } from '../abuse/inflight-bytes.js';
import type { IngestLimits } from '../abuse/rate-limits.js';
import { CollectorError } from '../errors.js';
import { acceptRawBodies, inflatedBody, ingestedResponse, requireMediaType } from '../http/body.js';
import type { IngestPipeline } from './pipeline.js';

const PROTOBUF = ['application/x-protobuf', 'application/protobuf', 'application/octet-stream'] as const;
const JSON_TYPES = ['application/json'] as const;

export interface IngestRouteOptions {
  pipeline: IngestPipeline;
  limits: IngestLimits;
  /** The cap on body bytes held at once by all ingest requests. */
  inflight: InflightBytes;
  /** Largest body accepted, in bytes, after gzip is inflated. */
  bodyLimit: number;
}

/**
 * The node type is checked when the request arrives, before its body is read: a wrong path is
 * answered 404 whatever was sent (not 413 for a body over the limit, not 415 for its type).
 */
function knownNodeType(request: FastifyRequest, _reply: unknown, done: (error?: Error) => void): void {
  const node = (request.params as { node: string }).node;
  if ((NODE_TYPES as readonly string[]).includes(node)) done();
  else
    done(
      new CollectorError(
        'unknown_node_type',
        `unknown node type "${node}": use ${NODE_TYPES.join(', ')}`,
        404,
      ),
    );
}

/** The route's node type, which knownNodeType (its onRequest hook) has checked. */
const nodeType = (request: FastifyRequest) => (request.params as { node: NodeType }).node;

export async function risingwaveRoutes(app: FastifyInstance, opts: IngestRouteOptions) {
  const { pipeline, limits, bodyLimit } = opts;
  acceptRawBodies(app, bodyLimit);
  app.addHook('onRequest', limits.checkAddress);
  app.addHook('onRequest', opts.inflight.reserve);

  const body = async (request: FastifyRequest, reply: FastifyReply, types: readonly string[]) => {
    requireMediaType(request, types);
    const raw = await inflatedBody(request, bodyLimit);
    limits.checkBytes(request, reply, raw.length);
    return raw;
  };
  const tags = ['ingest'];

  app.post(
    '/api/v2/report/:node',
    {
      bodyLimit,
      onRequest: knownNodeType,
      schema: { tags, summary: 'RisingWave v2 node report (protobuf)', response: ingestedResponse },
    },
    async (request, reply) => {
      const receivedAt = Date.now();
      const node = nodeType(request);
      const raw = await body(request, reply, PROTOBUF);
      const report = decodeV2Report(node, raw);
      await limits.checkClusters(request, reply, [report.trackingId]);
      return pipeline.report(report, raw, receivedAt);
    },
  );

  app.post(
    '/api/v2/report/events',
    {
      bodyLimit,
      schema: { tags, summary: 'RisingWave v2 event batch (BatchEventMessage)', response: ingestedResponse },
    },
    async (request, reply) => {
      const receivedAt = Date.now();
      const raw = await body(request, reply, PROTOBUF);
      const events = decodeV2EventBatchRaw(raw);
      await limits.checkClusters(
        request,
        reply,
        events.map((e) => e.event.trackingId),
        'events',
      );
      return pipeline.events(events, receivedAt, raw);
    },
  );

  app.post(
    '/api/v2/report/event',
    {
      bodyLimit,
      schema: {
        tags,
        summary: 'RisingWave v2 single event (EventMessage, 2.0–2.2)',
        response: ingestedResponse,
      },
    },
    async (request, reply) => {
      const receivedAt = Date.now();
      const raw = await body(request, reply, PROTOBUF);
      const event = decodeV2Event(raw);
      await limits.checkClusters(request, reply, [event.trackingId], 'events');
      return pipeline.events([{ event, raw }], receivedAt, raw);
    },
  );

  app.post(
    '/api/v1/report/:node',
    {
      bodyLimit,
      onRequest: knownNodeType,
      schema: { tags, summary: 'RisingWave legacy v1 node report (JSON)', response: ingestedResponse },
    },
    async (request, reply) => {
      const receivedAt = Date.now();
      const node = nodeType(request);
      const raw = await body(request, reply, JSON_TYPES);
      const report = decodeV1Report(node, raw);
      await limits.checkClusters(request, reply, [report.trackingId]);
      return pipeline.report(report, raw, receivedAt);
    },
  );
}
