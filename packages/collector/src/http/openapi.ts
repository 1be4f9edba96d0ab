// The OpenAPI document at /docs/json and its viewer at /docs: every route's schema, plus the
// pages that plugins serve without one.
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';

const htmlPage = (summary: string) => ({
  get: {
    tags: ['operations'],
    summary,
    responses: { 200: { description: 'An HTML page', content: { 'text/html': {} } } },
  },
});
const PAGE_PATHS = {
  '/': htmlPage(
    'The dashboard (its token arrives in the #token= fragment), or a page on how to send a first report when the dashboard is not built',
  ),
  '/docs': htmlPage('This API document, browsable (Swagger UI)'),
  '/docs/json': {
    get: {
      tags: ['operations'],
      summary: 'This API document (OpenAPI 3, JSON)',
      responses: { 200: { description: 'The OpenAPI document', content: { 'application/json': {} } } },
    },
  },
};

/** Registers the document before the routes, so that it picks up every route's schema. */
export async function installOpenApi(app: FastifyInstance): Promise<void> {
  await app.register(swagger, {
    openapi: {
      info: {
        title: 'Tidewatch collector',
        version: '0.1.0',
        description:
          'Ingest (RisingWave v1/v2), query, admin and operations routes. See docs/design/CONTRACT.md in the repository.',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    },
    // The pages are served by plugins whose routes hide themselves (the dashboard's static files,
    // the Swagger UI): listed here, so that the document names every route (CONTRACT.md).
    transformObject: (document) => {
      if (!('openapiObject' in document)) return document.swaggerObject;
      const openapi = document.openapiObject;
      return { ...openapi, paths: { ...PAGE_PATHS, ...openapi.paths } } as typeof openapi;
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
}
